import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PairwiseMatrix, firstValidMerge, summarize } from '../../src/bundle/index.ts';
import { replicateOutput, withShuffle } from './arbitraries.ts';

describe('summarize', () => {
  it('merges only valid outputs but measures distances over every replicate', () => {
    const s = summarize([
      { index: 0, output: { answer: 'A' }, valid: true },
      { index: 1, output: { answer: 'B' }, valid: true },
      { index: 2, output: { answer: 'B' }, valid: false },
      { index: 3, output: { answer: 'A' }, valid: true },
    ]);
    expect(s.consensus).toEqual({ answer: 'A' });
    expect(s.confidence).toBeCloseTo(2 / 3);
    expect(s.disagreements).toEqual([
      {
        path: '/answer',
        values: [
          { value: 'A', replicates: [0, 3] },
          { value: 'B', replicates: [1] },
        ],
      },
    ]);
    expect(s.pairwise_distances).toEqual([
      [0, 1, 1, 0],
      [1, 0, 1, 1],
      [1, 1, 0, 1],
      [0, 1, 1, 0],
    ]);
    expect(Object.keys(s).sort()).toEqual(['confidence', 'consensus', 'disagreements', 'pairwise_distances']);
  });

  it('reuses and extends an incremental matrix', () => {
    const matrix = new PairwiseMatrix();
    matrix.add(1, 'Paris');
    const s = summarize(
      [
        { index: 1, output: 'Paris', valid: true },
        { index: 0, output: 'paris', valid: true },
      ],
      { matrix },
    );
    expect(matrix.indices).toEqual([0, 1]);
    expect(s.pairwise_distances).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it('accepts a merge strategy by name or object, and a metric', () => {
    const entries = [
      { index: 0, output: 'b', valid: true },
      { index: 1, output: 'a', valid: true },
    ];
    expect(summarize(entries, { merge: 'first_valid' }).consensus).toBe('b');
    expect(summarize(entries, { merge: firstValidMerge }).consensus).toBe('b');
    expect(summarize(entries, { metric: () => 0.25 }).pairwise_distances[0]?.[1]).toBe(0.25);
  });

  it('with nothing valid gives a null consensus and confidence 0', () => {
    const s = summarize([{ index: 0, output: null, valid: false }]);
    expect(s).toEqual({ consensus: null, confidence: 0, disagreements: [], pairwise_distances: [[0]] });
  });

  it('property: order-independent, and the matrix is n×n, symmetric, in [0,1]', () => {
    const entries = fc
      .array(fc.tuple(replicateOutput, fc.boolean()), { maxLength: 8 })
      .map((xs) => xs.map(([output, valid], index) => ({ index, output, valid })));
    fc.assert(
      fc.property(withShuffle(entries), ({ items, shuffled }) => {
        const s = summarize(items);
        expect(summarize(shuffled)).toEqual(s);
        const m = s.pairwise_distances;
        expect(m).toHaveLength(items.length);
        m.forEach((row, i) => {
          expect(row).toHaveLength(items.length);
          expect(row[i]).toBe(0);
          row.forEach((d, j) => {
            expect(d).toBe(m[j]?.[i]);
            expect(d >= 0 && d <= 1).toBe(true);
          });
        });
      }),
    );
  });
});
