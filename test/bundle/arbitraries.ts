/**
 * Shared fast-check generators for the bundle specs: permutations are how
 * the order-independence properties are stated.
 */
import fc from 'fast-check';

/** A list together with a random permutation of it. */
export function withShuffle<T>(items: fc.Arbitrary<T[]>): fc.Arbitrary<{ items: T[]; shuffled: T[] }> {
  return items.chain((list) =>
    fc
      .shuffledSubarray(list, { minLength: list.length, maxLength: list.length })
      .map((shuffled) => ({ items: list, shuffled })),
  );
}

/** Replicate outputs shaped like schema objects, so the vote has real collisions. */
export const smallObject: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    answer: fc.constantFrom('A', 'B', 'C'),
    score: fc.integer({ min: 0, max: 3 }),
    tags: fc.subarray(['x', 'y', 'z']),
    ok: fc.boolean(),
    nested: fc.record({ label: fc.constantFrom('p', 'q'), n: fc.constantFrom(1, 2.5) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

/** Outputs a replicate might produce, failures included. */
export const replicateOutput: fc.Arbitrary<unknown> = fc.oneof(
  smallObject,
  fc.constantFrom('Paris', 'paris.', 'Rome', 'The answer is Paris'),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Entries with unique indices 0..n-1. */
export const entries: fc.Arbitrary<{ index: number; output: unknown }[]> = fc
  .array(replicateOutput, { maxLength: 9 })
  .map((outputs) => outputs.map((output, index) => ({ index, output })));
