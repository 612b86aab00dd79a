/**
 * The consensus of a cross-model panel whose models are weighed
 * (`merge.weights`): a plurality vote over whole answers in which each
 * replicate's vote counts its model's weight. Whole answers rather than
 * field by field: a weight says how far a model is trusted, and a model's
 * answer is one judgement, not a bag of independent fields.
 */
import { voteKey } from './earlyStop.ts';
import type { MergeEntry, MergeResult, MergeStrategy } from './mergeTypes.ts';
import { compareText } from './order.ts';
import { groupSamples, prepareSamples } from './samples.ts';
import { canonicalJson } from './canonical.ts';

/**
 * A merge strategy that weighs replicate `index`'s vote by `weightOf(index)`
 * (>= 0). The answer with the largest summed weight wins, ties by canonical
 * JSON; `confidence` is its share of the total weight (0 when every weight
 * is 0). Disagreements list every distinct answer at the root path.
 */
export function weightedVoteMerge(weightOf: (index: number) => number): MergeStrategy {
  return {
    name: 'weighted_vote',
    merge(entries: readonly MergeEntry[]): MergeResult {
      const samples = prepareSamples(entries);
      if (samples.length === 0) return { consensus: null, confidence: 0, disagreements: [], agreement: {} };
      const groups = groupSamples(samples, voteKey).map((g) => ({
        ...g,
        weight: g.replicates.reduce((sum, i) => sum + Math.max(0, weightOf(i)), 0),
        order: canonicalJson(g.value),
      }));
      groups.sort((a, b) => b.weight - a.weight || compareText(a.order, b.order));
      const total = groups.reduce((sum, g) => sum + g.weight, 0);
      const winner = groups[0] as (typeof groups)[number];
      const confidence = total > 0 ? winner.weight / total : 0;
      return {
        consensus: winner.value,
        confidence,
        disagreements: groups.length > 1 ? [{ path: '', values: groups.map((g) => ({ value: g.value, replicates: [...g.replicates] })) }] : [],
        agreement: { '': confidence },
      };
    },
  };
}
