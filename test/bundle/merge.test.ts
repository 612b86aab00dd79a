import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, mergeOutputs } from '../../src/bundle/index.ts';
import { MAX_MERGE_DEPTH } from '../../src/bundle/merge.ts';
import { entries, withShuffle } from './arbitraries.ts';

const run = (...outputs: unknown[]) => mergeOutputs(outputs.map((output, index) => ({ index, output })));

describe('mergeOutputs: voting on fields', () => {
  it('A, B, A on {answer} gives consensus A with confidence 2/3 and one disagreement', () => {
    const r = run({ answer: 'A' }, { answer: 'B' }, { answer: 'A' });
    expect(r.consensus).toEqual({ answer: 'A' });
    expect(r.confidence).toBeCloseTo(2 / 3);
    expect(r.disagreements).toEqual([
      {
        path: '/answer',
        values: [
          { value: 'A', replicates: [0, 2] },
          { value: 'B', replicates: [1] },
        ],
      },
    ]);
    expect(r.agreement).toEqual({ '/answer': 2 / 3 });
  });

  it('unanimous replicates give confidence 1 and no disagreements', () => {
    const r = run({ a: 1, b: 'x' }, { b: 'x', a: 1 });
    expect(r).toEqual({ consensus: { a: 1, b: 'x' }, confidence: 1, disagreements: [], agreement: { '/a': 1, '/b': 1 } });
  });

  it('breaks ties by canonical JSON, never by index: B, A gives A', () => {
    expect(run({ answer: 'B' }, { answer: 'A' }).consensus).toEqual({ answer: 'A' });
    expect(run(true, false).consensus).toBe(false);
  });

  it('ignores failed replicates (null/undefined output)', () => {
    const r = run(null, { answer: 'B' }, undefined, { answer: 'B' });
    expect(r.consensus).toEqual({ answer: 'B' });
    expect(r.confidence).toBe(1);
  });

  it('with no valid replicate the consensus is null and confidence 0', () => {
    expect(run(null, undefined)).toEqual({ consensus: null, confidence: 0, disagreements: [], agreement: {} });
  });

  it('votes booleans and null like strings', () => {
    const r = run({ ok: true, v: null }, { ok: false, v: null }, { ok: true, v: 'x' });
    expect(r.consensus).toEqual({ ok: true, v: null });
  });

  it('rejects duplicate indices, which would make the result order-dependent', () => {
    expect(() => mergeOutputs([{ index: 0, output: 1 }, { index: 0, output: 2 }])).toThrow(RangeError);
  });
});

describe('mergeOutputs: numbers', () => {
  it('takes the median, the mean of the two middle values for an even count', () => {
    expect(run({ n: 1 }, { n: 10 }, { n: 3 }).consensus).toEqual({ n: 3 });
    expect(run({ n: 1 }, { n: 2 }, { n: 4 }, { n: 100 }).consensus).toEqual({ n: 3 });
  });

  it('counts numbers within 1% of the median as agreeing, and lists exact differences', () => {
    const r = run({ n: 100 }, { n: 100.5 }, { n: 150 });
    expect(r.consensus).toEqual({ n: 100.5 });
    expect(r.agreement['/n']).toBeCloseTo(2 / 3);
    expect(r.disagreements[0]?.values.map((v) => v.value)).toEqual([100, 100.5, 150]);
  });

  it('the tolerance is configurable', () => {
    const r = mergeOutputs(
      [
        { index: 0, output: 100 },
        { index: 1, output: 120 },
      ],
      { numberTolerance: 0.2 },
    );
    expect(r.consensus).toBe(110);
    expect(r.confidence).toBe(1);
  });
});

describe('mergeOutputs: objects', () => {
  it('keeps a key only when more than half of the objects have it', () => {
    const r = run({ a: 1, extra: 'x' }, { a: 1 }, { a: 1, more: 2 }, { a: 1, more: 2 });
    expect(r.consensus).toEqual({ a: 1 });
    const r2 = run({ a: 1, more: 2 }, { a: 1 }, { a: 1, more: 2 });
    expect(r2.consensus).toEqual({ a: 1, more: 2 });
  });

  it('counts absence as agreement for dropped keys and as disagreement for kept ones', () => {
    const r = run({ a: 1 }, { a: 1 }, { b: 1 });
    expect(r.consensus).toEqual({ a: 1 });
    expect(r.agreement).toEqual({ '/a': 2 / 3, '/b': 2 / 3 });
    expect(r.disagreements).toEqual([
      { path: '/a', values: [{ value: 1, replicates: [0, 1] }] },
      { path: '/b', values: [{ value: 1, replicates: [2] }] },
    ]);
  });

  it('recurses, reporting disagreements at the deepest differing path with escaped pointers', () => {
    const r = run({ 'x/y': { 'm~n': 'p' } }, { 'x/y': { 'm~n': 'q' } }, { 'x/y': { 'm~n': 'p' } });
    expect(r.consensus).toEqual({ 'x/y': { 'm~n': 'p' } });
    expect(r.disagreements.map((d) => d.path)).toEqual(['/x~1y/m~0n']);
  });

  it('sorts disagreements by path and values by support then canonical JSON', () => {
    const r = run({ z: 'c', a: 'x' }, { z: 'b', a: 'y' }, { z: 'a', a: 'y' });
    expect(r.disagreements.map((d) => d.path)).toEqual(['/a', '/z']);
    expect(r.disagreements[1]?.values.map((v) => v.value)).toEqual(['a', 'b', 'c']);
  });

  it('an empty object root is unanimous', () => {
    expect(run({}, {})).toEqual({ consensus: {}, confidence: 1, disagreements: [], agreement: { '': 1 } });
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const v = JSON.parse('{"__proto__":{"a":1}}') as unknown;
    const r = run(v, v);
    expect(Object.getPrototypeOf(r.consensus)).toBe(Object.prototype);
    expect(canonicalJson(r.consensus)).toBe('{"__proto__":{"a":1}}');
  });
});

describe('mergeOutputs: arrays', () => {
  it('merges primitive arrays as sets: items held by a majority, by support then canonical order', () => {
    const r = run({ t: ['b', 'a'] }, { t: ['a', 'b', 'c'] }, { t: ['c', 'a'] });
    expect(r.consensus).toEqual({ t: ['a', 'b', 'c'] });
    expect(r.agreement['/t']).toBeCloseTo(1 / 3);
    expect(r.disagreements[0]).toEqual({
      path: '/t',
      values: [
        // Canonical order: '["a","b","c"]' < '["a","b"]' because '"' < ']'.
        { value: ['a', 'b', 'c'], replicates: [1] },
        { value: ['a', 'b'], replicates: [0] },
        { value: ['a', 'c'], replicates: [2] },
      ],
    });
  });

  it('treats reordered primitive arrays as agreeing', () => {
    const r = run([3, 1, 2], [1, 2, 3]);
    expect(r.consensus).toEqual([1, 2, 3]);
    expect(r.confidence).toBe(1);
    expect(r.disagreements).toEqual([]);
  });

  it('votes arrays of objects as whole values', () => {
    const r = run({ items: [{ id: 1 }] }, { items: [{ id: 2 }] }, { items: [{ id: 1 }] });
    expect(r.consensus).toEqual({ items: [{ id: 1 }] });
    expect(r.disagreements[0]?.path).toBe('/items');
  });
});

describe('mergeOutputs: mixed types and free text', () => {
  it('votes whole values when JSON types differ at a path', () => {
    const r = run({ v: 1 }, { v: '1' }, { v: 1 });
    expect(r.consensus).toEqual({ v: 1 });
    expect(r.disagreements[0]?.values).toEqual([
      { value: 1, replicates: [0, 2] },
      { value: '1', replicates: [1] },
    ]);
  });

  it('votes top-level text on normalised text and shows the commonest spelling', () => {
    const r = run('Paris.', 'paris', 'Rome', 'Paris.');
    expect(r.consensus).toBe('Paris.');
    expect(r.confidence).toBe(3 / 4);
    expect(r.disagreements).toEqual([
      {
        path: '',
        values: [
          { value: 'Paris.', replicates: [0, 1, 3] },
          { value: 'Rome', replicates: [2] },
        ],
      },
    ]);
  });

  it('without a majority picks the medoid answer', () => {
    const r = run(
      'The capital of France is Paris',
      'The capital of France is Paris, of course',
      'Lyon',
      'I think the capital of France is Paris',
    );
    expect(r.consensus).toBe('The capital of France is Paris');
    expect(r.confidence).toBe(1 / 4);
  });

  it('the medoid metric is pluggable', () => {
    const r = mergeOutputs(
      ['aa', 'b', 'cccc'].map((output, index) => ({ index, output })),
      { textMetric: (a, b) => Math.min(1, Math.abs(a.length - b.length) / 4) },
    );
    expect(r.consensus).toBe('aa');
  });
});

describe('mergeOutputs: properties', () => {
  it('the same entries in any order give an identical result', () => {
    fc.assert(
      fc.property(withShuffle(entries), ({ items, shuffled }) => {
        expect(mergeOutputs(shuffled)).toEqual(mergeOutputs(items));
      }),
      { numRuns: 300 },
    );
  });

  it('confidence and every agreement share lie in [0,1]; disagreements are sorted by path', () => {
    fc.assert(
      fc.property(entries, (es) => {
        const r = mergeOutputs(es);
        expect(r.confidence >= 0 && r.confidence <= 1).toBe(true);
        for (const share of Object.values(r.agreement)) expect(share >= 0 && share <= 1).toBe(true);
        const paths = r.disagreements.map((d) => d.path);
        expect([...paths].sort()).toEqual(paths);
        expect(new Set(paths).size).toBe(paths.length);
        for (const d of r.disagreements) {
          for (const v of d.values) expect([...v.replicates].sort((a, b) => a - b)).toEqual(v.replicates);
        }
      }),
    );
  });

  it('a lone free-text answer is the consensus verbatim, with or without failed replicates beside it', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 1000 }), (text, index) => {
        const expected = { consensus: text, confidence: 1, disagreements: [], agreement: { '': 1 } };
        expect(mergeOutputs([{ index, output: text }])).toEqual(expected);
        expect(mergeOutputs([{ index: index + 1, output: null }, { index, output: text }])).toEqual(expected);
        // Two copies take the general vote; one copy must come out the same.
        expect(mergeOutputs([{ index, output: text }, { index: index + 1, output: text }]).consensus).toBe(text);
      }),
    );
  });

  it('identical valid outputs give themselves back with confidence 1 and no disagreements', () => {
    fc.assert(
      fc.property(fc.jsonValue().filter((v) => v !== null), fc.integer({ min: 1, max: 5 }), (v, n) => {
        const r = mergeOutputs(Array.from({ length: n }, (_, index) => ({ index, output: v })));
        expect(r.confidence).toBe(1);
        expect(r.disagreements).toEqual([]);
        if (typeof v !== 'string') {
          // Primitive arrays come back as sets, so compare structurally modulo that.
          expect(mergeOutputs([{ index: 0, output: r.consensus }]).consensus).toEqual(r.consensus);
        }
      }),
    );
  });
});

describe('mergeOutputs on deep outputs', () => {
  it('merges field by field down to MAX_MERGE_DEPTH and votes whole values below it, without overflowing the stack', () => {
    const nest = (depth: number, leaf: unknown) => {
      let v: unknown = leaf;
      for (let i = 0; i < depth; i++) v = { k: v };
      return v;
    };
    const deep = 50_000;
    const result = run(nest(deep, 'a'), nest(deep, 'a'), nest(deep, 'b'));
    expect(canonicalJson(result.consensus)).toBe(canonicalJson(nest(deep, 'a')));
    expect(result.disagreements).toHaveLength(1);
    expect(result.disagreements[0]?.path.split('/').length).toBe(MAX_MERGE_DEPTH + 1);
  });
});
