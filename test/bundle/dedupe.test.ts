import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dedupeTexts } from '../../src/bundle/index.ts';
import { withShuffle } from './arbitraries.ts';

const texts = (...outputs: string[]) => outputs.map((output, index) => ({ index, output }));

describe('dedupeTexts', () => {
  it('groups answers that normalise to the same text', () => {
    expect(dedupeTexts(texts('Paris.', 'Rome', 'paris', 'ROME!'))).toEqual([
      { representative: 0, members: [0, 2] },
      { representative: 1, members: [1, 3] },
    ]);
  });

  it('groups near-identical paragraphs under the threshold and keeps different ones apart', () => {
    const base = 'The mitochondria is the powerhouse of the cell and produces most of its ATP supply';
    const groups = dedupeTexts(texts(base, `${base} too`, 'Photosynthesis happens in chloroplasts'), 0.15);
    expect(groups).toEqual([
      { representative: 0, members: [0, 1] },
      { representative: 2, members: [2] },
    ]);
  });

  it('a threshold of 0 only merges normalised-equal answers', () => {
    expect(dedupeTexts(texts('a b', 'a b c'), 0)).toHaveLength(2);
  });

  it('is empty for no entries and rejects duplicate indices', () => {
    expect(dedupeTexts([])).toEqual([]);
    expect(() => dedupeTexts([{ index: 1, output: 'a' }, { index: 1, output: 'b' }])).toThrow(RangeError);
  });

  it('property: order-independent partition with the smallest index as representative', () => {
    const answers = fc.array(fc.constantFrom('Paris', 'paris!', 'Paris, France', 'Rome', 'rome', 'Lyon', ''), {
      maxLength: 10,
    });
    fc.assert(
      fc.property(
        withShuffle(answers.map((a) => a.map((output, index) => ({ index, output })))),
        fc.double({ min: 0, max: 1, noNaN: true }),
        ({ items, shuffled }, threshold) => {
          const groups = dedupeTexts(items, threshold);
          expect(dedupeTexts(shuffled, threshold)).toEqual(groups);
          const all = groups.flatMap((g) => g.members).sort((a, b) => a - b);
          expect(all).toEqual(items.map((e) => e.index));
          for (const g of groups) expect(g.representative).toBe(Math.min(...g.members));
        },
      ),
    );
  });
});
