import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { weightedVoteMerge } from '../../src/bundle/weightedVote.ts';

describe('weighted vote (merge.weights)', () => {
  it('lets one heavy vote outweigh two light ones, and reports the winning share of weight', () => {
    const weights = [1, 1, 5];
    const merge = weightedVoteMerge((i) => weights[i] ?? 1);
    const result = merge.merge([
      { index: 0, output: 'A' },
      { index: 1, output: 'A' },
      { index: 2, output: 'B' },
    ]);
    expect(result.consensus).toBe('B');
    expect(result.confidence).toBeCloseTo(5 / 7, 10);
    expect(result.disagreements).toEqual([{ path: '', values: [{ value: 'B', replicates: [2] }, { value: 'A', replicates: [0, 1] }] }]);
  });

  it('counts answers that differ only in case and punctuation as one, and ignores failed replicates', () => {
    const merge = weightedVoteMerge(() => 1);
    const result = merge.merge([
      { index: 0, output: 'Paris.' },
      { index: 1, output: 'paris' },
      { index: 2, output: null },
      { index: 3, output: 'Lyon' },
    ]);
    expect(result.confidence).toBeCloseTo(2 / 3, 10);
    expect(String(result.consensus).toLowerCase()).toContain('paris');
  });

  it('with all weights 0 still answers, with confidence 0; with no valid replicate, null', () => {
    expect(weightedVoteMerge(() => 0).merge([{ index: 0, output: { a: 1 } }])).toMatchObject({ consensus: { a: 1 }, confidence: 0 });
    expect(weightedVoteMerge(() => 1).merge([{ index: 0, output: null }])).toMatchObject({ consensus: null, confidence: 0 });
  });

  it('does not depend on the order of the replicates', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('A', 'B', 'C', null), fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 12 }),
        fc.integer(),
        (rows, salt) => {
          const entries = rows.map(([output], index) => ({ index, output }));
          const merge = weightedVoteMerge((i) => rows[i]?.[1] ?? 1);
          const shuffled = [...entries].sort((a, b) => ((a.index * 7919 + salt) % 13) - ((b.index * 7919 + salt) % 13));
          expect(merge.merge(shuffled)).toEqual(merge.merge(entries));
        },
      ),
    );
  });
});
