import { byModel, weightedVoteMerge, type MergeStrategy } from '../bundle/index.ts';
import { formatModelRef } from '../providers/modelRef.ts';
import type { ModelFigures, Replicate, Summary } from '../schemas/bundle.ts';
import type { ResolvedRequest, RunModels } from '../toolkit/api.ts';
import { assignModels } from './panel.ts';

/** How a run's replicates use models: which model each asks, where it falls back, how the panel votes and is reported. */
export interface PanelPlan {
  /** The model reference replicate `index` asks first. */
  modelOf(index: number): string;
  /** Where a replicate's call moves when its model's circuit is open or it keeps failing. */
  readonly fallbacks: readonly string[] | undefined;
  /** The merge of these replicates: the request's, or a weighted vote when `merge.weights` weighs models. */
  merge(replicates: readonly Replicate[]): MergeStrategy | string;
  /** `by_model` of the bundle, for a panel, or a run whose replicates fell back or mixed models; else nothing. */
  byModel(replicates: readonly Replicate[], summary: Summary, metric: ResolvedRequest['metric']): { by_model?: Record<string, ModelFigures> };
}

/** The `provider/model` a replicate's figures are kept under. */
export function replicateModelKey(replicate: Pick<Replicate, 'provider' | 'model'>): string {
  return formatModelRef(replicate);
}

/**
 * The plan of `request`: with `agent.models`, replicates are spread across
 * them (round-robin, or by weight: core/panel.ts) and the bundle reports
 * `by_model`; without, every replicate asks `agent.model`.
 */
export function panelPlan(request: ResolvedRequest, models: RunModels): PanelPlan {
  const listed = request.agent.models;
  const assigned = listed
    ? assignModels(
        listed.map((m) => (typeof m === 'string' ? m : m.model)),
        request.replicates,
        listed.some((m) => typeof m !== 'string') ? listed.map((m) => (typeof m === 'string' ? 1 : m.weight)) : undefined,
      )
    : null;
  const weights = request.model_weights
    ? new Map(Object.entries(request.model_weights).map(([ref, w]) => [formatModelRef(models.resolve(ref)), w]))
    : null;
  return {
    modelOf: (index) => assigned?.[index] ?? request.agent.model,
    fallbacks: request.agent.fallback_models,
    merge(replicates) {
      if (!weights) return request.merge;
      const keyOf = new Map(replicates.map((r) => [r.index, replicateModelKey(r)]));
      // A model the weights do not name votes with weight 1.
      return weightedVoteMerge((index) => weights.get(keyOf.get(index) ?? '') ?? 1);
    },
    byModel(replicates, summary, metric) {
      const entries = replicates.map((r) => ({ index: r.index, model: replicateModelKey(r), valid: r.valid, output: r.output, usage: r.usage, cost_usd: r.cost_usd }));
      const moved = replicates.some((r) => (r.fallbacks?.length ?? 0) > 0);
      if (!assigned && !moved && new Set(entries.map((e) => e.model)).size < 2) return {};
      return { by_model: byModel(entries, summary.pairwise_distances, summary.consensus, metric === 'semantic' ? 'auto' : metric) };
    },
  };
}
