import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PairwiseMatrix, distanceBetween, meanPairwiseDistance, pairwiseDistances } from '../../src/bundle/index.ts';
import { withShuffle } from './arbitraries.ts';

describe('PairwiseMatrix', () => {
  it('lays rows out in index order whatever the arrival order', () => {
    const m = new PairwiseMatrix();
    m.add(2, { a: 1 });
    m.add(0, { a: 1 });
    m.add(1, { a: 2 });
    expect(m.indices).toEqual([0, 1, 2]);
    expect(m.toArray()).toEqual([
      [0, 0.5, 0],
      [0.5, 0, 0.5],
      [0, 0.5, 0],
    ]);
  });

  it('puts a failed replicate (null) at distance 1 from everyone, itself excepted', () => {
    expect(pairwiseDistances(['yes', null, null])).toEqual([
      [0, 1, 1],
      [1, 0, 1],
      [1, 1, 0],
    ]);
  });

  it('computes only the new row on add, so partial summaries stay O(n) per replicate', () => {
    let calls = 0;
    const m = new PairwiseMatrix({
      metric: () => {
        calls++;
        return 0.5;
      },
    });
    for (let i = 0; i < 10; i++) m.add(i, `answer ${i}`);
    expect(calls).toBe(45);
    m.toArray();
    expect(calls).toBe(45);
  });

  it('supports a sub-order and rejects unknown or repeated indices', () => {
    const m = new PairwiseMatrix();
    m.add(0, 'a');
    m.add(5, 'b');
    expect(m.toArray([5])).toEqual([[0]]);
    expect(() => m.add(5, 'c')).toThrow(RangeError);
    expect(() => m.add(1.5, 'c')).toThrow(RangeError);
    expect(() => m.toArray([0, 7])).toThrow(RangeError);
  });

  it('property: the matrix is symmetric, zero on the diagonal, in [0,1], for any arrival order', () => {
    const outputs = fc.array(fc.oneof(fc.jsonValue(), fc.string(), fc.constant(null)), { maxLength: 8 });
    const withOrder = outputs.chain((values) =>
      withShuffle(fc.constant(values.map((_, i) => i))).map(({ shuffled }) => ({ values, order: shuffled })),
    );
    fc.assert(
      fc.property(withOrder, ({ values, order }) => {
        const m = new PairwiseMatrix();
        for (const i of order) m.add(i, values[i]);
        const arr = m.toArray();
        expect(arr).toEqual(pairwiseDistances(values));
        arr.forEach((row, i) => {
          expect(row[i]).toBe(0);
          row.forEach((d, j) => {
            expect(d).toBe(arr[j]?.[i]);
            expect(d >= 0 && d <= 1).toBe(true);
          });
        });
      }),
    );
  });
});

describe('pairwiseDistances', () => {
  it('property: every cell equals distanceBetween under the same metric (text features are cached, not changed)', () => {
    const metric = fc.constantFrom('auto' as const, 'structural' as const, 'textual' as const);
    const outputs = fc.array(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.constant(null)), { maxLength: 6 });
    fc.assert(
      fc.property(outputs, metric, (values, m) => {
        const arr = pairwiseDistances(values, m);
        values.forEach((a, i) =>
          values.forEach((b, j) => expect(arr[i]?.[j]).toBe(i === j ? 0 : distanceBetween(a, b, m))),
        );
      }),
    );
  });
});

describe('meanPairwiseDistance', () => {
  it('averages over unordered pairs, optionally among a subset of replicates', () => {
    const m = new PairwiseMatrix();
    m.add(0, 'a');
    m.add(1, 'a');
    m.add(2, null);
    expect(meanPairwiseDistance(m)).toBeCloseTo(2 / 3);
    expect(meanPairwiseDistance(m, [0, 1])).toBe(0);
    expect(meanPairwiseDistance(m.toArray(), [0, 2])).toBe(1);
  });

  it('is 0 with fewer than two members but still rejects unknown ones', () => {
    const m = new PairwiseMatrix();
    expect(meanPairwiseDistance(m)).toBe(0);
    m.add(3, 'x');
    expect(meanPairwiseDistance(m)).toBe(0);
    expect(() => meanPairwiseDistance(m, [4])).toThrow(RangeError);
  });
});
