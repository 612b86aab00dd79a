import { describe, expect, it } from 'vitest';
import { byModel, type ModelEntry } from '../../src/bundle/byModel.ts';
import { pairwiseDistances } from '../../src/bundle/index.ts';

const usage = (t: number) => ({ input_tokens: t, output_tokens: t, total_tokens: 2 * t });

describe('by_model', () => {
  it('gives each model its replicates, agreement with the consensus, distance to the others, usage and cost', () => {
    const entries: ModelEntry[] = [
      { index: 0, model: 'p1/m1', valid: true, output: { answer: 'A' }, usage: usage(1), cost_usd: 0.1 },
      { index: 1, model: 'p2/m2', valid: true, output: { answer: 'B' }, usage: usage(2), cost_usd: 0.2 },
      { index: 2, model: 'p1/m1', valid: true, output: { answer: 'A' }, usage: usage(1), cost_usd: 0.1 },
      { index: 3, model: 'p2/m2', valid: true, output: { answer: 'A' }, usage: usage(2), cost_usd: 0.2 },
    ];
    const matrix = pairwiseDistances(entries.map((e) => e.output));
    const out = byModel(entries, matrix, { answer: 'A' });
    expect(Object.keys(out).sort()).toEqual(['p1/m1', 'p2/m2']);
    expect(out['p1/m1']).toMatchObject({ replicates: [0, 2], valid: 2, agreement: 1, usage: usage(2), cost_usd: 0.2 });
    expect(out['p2/m2']?.replicates).toEqual([1, 3]);
    expect(out['p2/m2']?.agreement).toBe(0.5);
    // m1's A,A against m2's B,A: half the pairs differ entirely.
    expect(out['p1/m1']?.mean_distance_to_others).toBe(0.5);
  });

  it('says null where there is nothing to compare', () => {
    const out = byModel([{ index: 0, model: 'x', valid: false, output: null, usage: usage(0), cost_usd: 0 }], [[0]], null);
    expect(out.x).toMatchObject({ agreement: null, mean_distance_to_others: null, valid: 0 });
  });
});
