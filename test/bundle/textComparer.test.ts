import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeOutputs, PairwiseMatrix, summarize, TextComparer, textualDistance } from '../../src/bundle/index.ts';

const WORDS = ['Paris', 'paris.', 'Lyon', 'the', 'capital', 'is', "isn't", 'France', 'FRANCE!', 'of', 'city'];
const sentence = fc.array(fc.constantFrom(...WORDS), { minLength: 0, maxLength: 6 }).map((w) => w.join(' '));

describe('TextComparer (memo of a run’s text comparisons)', () => {
  it('gives exactly the textual distance, whatever was compared before', () => {
    fc.assert(
      fc.property(fc.array(sentence, { minLength: 2, maxLength: 12 }), (texts) => {
        const memo = new TextComparer();
        for (let round = 0; round < 2; round++) {
          for (const a of texts) for (const b of texts) expect(memo.between(a, b)).toBe(textualDistance(a, b));
        }
      }),
    );
  });

  it('leaves merges and summaries unchanged when shared across partial summaries of a growing run', () => {
    fc.assert(
      fc.property(fc.array(sentence, { minLength: 1, maxLength: 15 }), (answers) => {
        const texts = new TextComparer();
        const matrix = new PairwiseMatrix({ texts });
        for (let k = 1; k <= answers.length; k++) {
          const entries = answers.slice(0, k).map((output, index) => ({ index, output, valid: true }));
          const shared = summarize(entries, { matrix, mergeOptions: { texts } });
          const fresh = summarize(entries);
          expect(shared).toEqual(fresh);
          expect(mergeOutputs(entries, { texts })).toEqual(mergeOutputs(entries));
        }
      }),
      { numRuns: 60 },
    );
  });
});
