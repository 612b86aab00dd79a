import { describe, expect, it } from 'vitest';
import { mergeOutputs } from '../../src/bundle/index.ts';

const a = 'The capital of France is Paris, a city on the Seine river in the north of the country.';
const b = 'The capital of France is Paris, a city on the Seine river in the north of the country too.';
const c = 'Lyon is a city in France known for food.';

describe('free-text consensus deduplicates near-identical answers', () => {
  it('counts two near-identical answers as one answer with two votes', () => {
    const merged = mergeOutputs([
      { index: 0, output: a },
      { index: 1, output: b },
      { index: 2, output: c },
    ]);
    expect([a, b]).toContain(merged.consensus);
    expect(merged.confidence).toBeCloseTo(2 / 3, 9);
    expect(merged.disagreements[0]!.values.map((v) => v.replicates)).toEqual([[0, 1], [2]]);
  });

  it('gives the same result whatever the arrival order', () => {
    const entries = [
      { index: 0, output: a },
      { index: 1, output: b },
      { index: 2, output: c },
    ];
    const forward = mergeOutputs(entries);
    const backward = mergeOutputs([...entries].reverse());
    expect(backward).toEqual(forward);
  });
});
