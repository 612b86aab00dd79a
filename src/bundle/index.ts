/**
 * Evidence Bundle arithmetic: canonical JSON, distances, merging, early
 * stopping and statistics. Everything here is pure and deterministic, so
 * the orchestrator can recompute a bundle and get byte-identical results.
 */
export { betaStopProbability } from './betaStop.ts';
export { predictiveFlipProbability } from './predictiveStop.ts';
export { canonicalJson, toJsonValue, type JsonValue } from './canonical.ts';
export { dedupeTexts, type TextEntry, type TextGroup } from './dedupe.ts';
export { TextComparer } from './textComparer.ts';
export {
  cosineDistance,
  distanceBetween,
  structuralDistance,
  textualDistance,
  type DistanceFunction,
  type DistanceMetric,
  type MetricLike,
} from './distance.ts';
export {
  decideEarlyStop,
  voteKey,
  type EarlyStopConfig,
  type EarlyStopDecision,
  type EarlyStopRule,
  type EarlyStopState,
} from './earlyStop.ts';
export { appendPointer } from './jsonPointer.ts';
export { mergeOutputs } from './merge.ts';
export { builtInMergeStrategies, firstValidMerge, resolveMergeStrategy, votingMerge } from './mergeStrategy.ts';
export { weightedVoteMerge } from './weightedVote.ts';
export { byModel, type ModelEntry } from './byModel.ts';
export type {
  Disagreement,
  DisagreementValue,
  MergeEntry,
  MergeOptions,
  MergeResult,
  MergeStrategy,
} from './mergeTypes.ts';
export { compareNumbers, compareText } from './order.ts';
export { PairwiseMatrix, meanPairwiseDistance, pairwiseDistances, type PairwiseMatrixOptions } from './pairwise.ts';
export {
  computeStatistics,
  type LatencySummary,
  type ReplicateOutcome,
  type ReplicateStatus,
  type RunStatistics,
} from './statistics.ts';
export { summarize, type BundleSummary, type SummarizeOptions, type SummaryEntry } from './summarize.ts';
export { normalizeText } from './text.ts';
