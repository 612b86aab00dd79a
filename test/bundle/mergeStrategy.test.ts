import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  firstValidMerge,
  resolveMergeStrategy,
  votingMerge,
  type MergeStrategy,
} from '../../src/bundle/index.ts';
import { entries, withShuffle } from './arbitraries.ts';

describe('resolveMergeStrategy', () => {
  it('defaults to voting and resolves the built-in names', () => {
    expect(resolveMergeStrategy()).toBe(votingMerge);
    expect(resolveMergeStrategy('vote')).toBe(votingMerge);
    expect(resolveMergeStrategy('first_valid')).toBe(firstValidMerge);
  });

  it('passes a custom strategy object through', () => {
    const custom: MergeStrategy = {
      name: 'always_42',
      merge: () => ({ consensus: 42, confidence: 1, disagreements: [], agreement: { '': 1 } }),
    };
    expect(resolveMergeStrategy(custom)).toBe(custom);
  });

  it('rejects unknown names, listing the built-ins', () => {
    expect(() => resolveMergeStrategy('majority')).toThrow(/vote, first_valid/);
  });
});

describe('firstValidMerge', () => {
  it('takes the valid output with the smallest index, whatever the input order', () => {
    const r = firstValidMerge.merge([
      { index: 2, output: { a: 1 } },
      { index: 0, output: null },
      { index: 1, output: { a: 2 } },
    ]);
    expect(r.consensus).toEqual({ a: 2 });
    expect(r.confidence).toBe(0.5);
    expect(r.disagreements).toEqual([
      {
        path: '',
        values: [
          { value: { a: 1 }, replicates: [2] },
          { value: { a: 2 }, replicates: [1] },
        ],
      },
    ]);
  });

  it('with nothing valid gives null and confidence 0', () => {
    expect(firstValidMerge.merge([{ index: 0, output: undefined }]).consensus).toBeNull();
  });

  it('property: order-independent', () => {
    fc.assert(
      fc.property(withShuffle(entries), ({ items, shuffled }) => {
        expect(firstValidMerge.merge(shuffled)).toEqual(firstValidMerge.merge(items));
      }),
    );
  });
});
