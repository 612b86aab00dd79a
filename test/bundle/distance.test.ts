import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cosineDistance,
  distanceBetween,
  normalizeText,
  structuralDistance,
  textualDistance,
} from '../../src/bundle/index.ts';

const inUnit = (d: number): boolean => d >= 0 && d <= 1;

describe('textualDistance', () => {
  it('ignores case, whitespace and punctuation: "Paris." equals "  paris "', () => {
    expect(normalizeText('  Paris. ')).toBe('paris');
    expect(textualDistance('Paris.', '  paris ')).toBe(0);
    expect(textualDistance("Don't panic!", 'dont   PANIC')).toBe(0);
  });

  it('is 1 for texts sharing nothing and small for near-identical ones', () => {
    expect(textualDistance('alpha', 'omega')).toBeGreaterThan(0.8);
    expect(textualDistance('', 'something')).toBe(1);
    const near = textualDistance('The capital of France is Paris', 'The capital of France is Paris indeed');
    expect(near).toBeGreaterThan(0);
    expect(near).toBeLessThan(0.25);
  });

  it('is never 0 for texts that normalise differently, even with identical words and trigrams', () => {
    expect(textualDistance('a b a c a', 'a c a b a')).toBeGreaterThan(0);
  });

  it('stays fast on long texts', () => {
    const long = 'lorem ipsum dolor sit amet '.repeat(4000);
    const d = textualDistance(long, `${long} extra`);
    expect(inUnit(d)).toBe(true);
  });

  it('property: symmetric, in [0,1], and 0 exactly when normalised texts are equal', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const d = textualDistance(a, b);
        expect(d).toBe(textualDistance(b, a));
        expect(inUnit(d)).toBe(true);
        expect(d === 0).toBe(normalizeText(a) === normalizeText(b));
        expect(textualDistance(a, a)).toBe(0);
      }),
    );
  });
});

describe('structuralDistance', () => {
  it('is 0 for deep-equal values whatever the key order', () => {
    expect(structuralDistance({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(0);
  });

  it('is 1 across JSON types', () => {
    expect(structuralDistance(1, '1')).toBe(1);
    expect(structuralDistance({}, [])).toBe(1);
    expect(structuralDistance(null, false)).toBe(1);
  });

  it('averages over the union of keys, a missing key counting 1', () => {
    expect(structuralDistance({ a: 1, b: true }, { a: 1, b: false })).toBe(0.5);
    expect(structuralDistance({ a: 1 }, { a: 1, b: 2 })).toBe(0.5);
  });

  it('compares numbers relatively, clipped to 1', () => {
    expect(structuralDistance(100, 90)).toBeCloseTo(0.1);
    expect(structuralDistance(5, -5)).toBe(1);
  });

  it('treats primitive arrays as multisets and other arrays element-wise', () => {
    expect(structuralDistance([1, 2, 3], [3, 2, 1])).toBe(0);
    expect(structuralDistance(['a', 'b'], ['b', 'c'])).toBeCloseTo(2 / 3);
    expect(structuralDistance([{ x: 1 }, { x: 2 }], [{ x: 1 }])).toBe(0.5);
  });

  it('uses textual distance for unequal strings inside structures', () => {
    expect(structuralDistance({ s: 'Paris' }, { s: 'paris.' })).toBe(0);
    expect(structuralDistance({ s: 'Paris' }, { s: 'Rome' })).toBeGreaterThan(0.5);
  });

  it('property: symmetric, in [0,1], 0 on equal values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        const d = structuralDistance(a, b);
        expect(d).toBe(structuralDistance(b, a));
        expect(inUnit(d)).toBe(true);
        expect(structuralDistance(a, a)).toBe(0);
        expect(structuralDistance(a, structuredClone(a))).toBe(0);
      }),
    );
  });
});

describe('cosineDistance', () => {
  it('maps cosine into [0,1]: same direction 0, orthogonal 0.5, opposite 1', () => {
    expect(cosineDistance([1, 2], [2, 4])).toBeCloseTo(0);
    expect(cosineDistance([1, 0], [0, 1])).toBeCloseTo(0.5);
    expect(cosineDistance([1, 0], [-1, 0])).toBeCloseTo(1);
  });

  it('treats a zero vector against a non-zero one as maximally distant and rejects length mismatch', () => {
    expect(cosineDistance([0, 0], [0, 0])).toBe(0);
    expect(cosineDistance([0, 0], [1, 0])).toBe(1);
    expect(() => cosineDistance([1], [1, 2])).toThrow(RangeError);
  });

  it('property: symmetric, in [0,1], 0 on equal vectors', () => {
    const vec = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(vec, vec, (a, b) => {
        const d = cosineDistance(a, b);
        expect(d).toBe(cosineDistance(b, a));
        expect(inUnit(d)).toBe(true);
        expect(cosineDistance(a, [...a])).toBe(0);
      }),
    );
  });
});

describe('distanceBetween', () => {
  it('auto is textual for two strings and structural otherwise', () => {
    expect(distanceBetween('Paris', 'paris!', 'auto')).toBe(0);
    expect(distanceBetween({ a: 1 }, { a: 2 }, 'auto')).toBe(0.5);
    expect(distanceBetween('1', 1, 'auto')).toBe(1);
  });

  it('a missing output is at distance 1 from everything, including another missing one', () => {
    expect(distanceBetween(null, 'x')).toBe(1);
    expect(distanceBetween(undefined, null)).toBe(1);
    expect(distanceBetween(null, null, 'structural')).toBe(1);
  });

  it('textual metric compares non-strings by canonical JSON text', () => {
    expect(distanceBetween({ b: 1, a: 2 }, { a: 2, b: 1 }, 'textual')).toBe(0);
  });

  it('accepts a custom metric and clamps it into [0,1]', () => {
    expect(distanceBetween('a', 'b', () => 7)).toBe(1);
    expect(distanceBetween('a', 'b', () => Number.NaN)).toBe(1);
  });

  it('property: every built-in metric is symmetric and in [0,1]', () => {
    const metric = fc.constantFrom('auto' as const, 'structural' as const, 'textual' as const);
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), metric, (a, b, m) => {
        const d = distanceBetween(a, b, m);
        expect(d).toBe(distanceBetween(b, a, m));
        expect(inUnit(d)).toBe(true);
        if (a !== null) expect(distanceBetween(a, a, m)).toBe(0);
      }),
    );
  });
});
