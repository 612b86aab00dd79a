/**
 * The `by_model` block of a cross-model bundle: how each model of a panel
 * did against the others. Pure: replicates, their distance matrix and the
 * consensus in, figures out.
 */
import { addUsage, emptyUsage } from '../schemas/bundle.ts';
import { distanceBetween, type MetricLike } from './distance.ts';

/** One replicate as `by_model` sees it. */
export interface ModelEntry {
  readonly index: number;
  /** `provider/model` that answered. */
  readonly model: string;
  readonly valid: boolean;
  readonly output: unknown;
  readonly usage: { input_tokens: number; output_tokens: number; total_tokens: number };
  readonly cost_usd: number;
}

/** Per model: its replicates and how close they came to the consensus and to the other models. */
export interface ModelFigures {
  replicates: number[];
  valid: number;
  /** Mean of 1 − distance(output, consensus) over its valid replicates; null when none was valid or there is no consensus. */
  agreement: number | null;
  /** Mean distance from its replicates to every replicate of the other models; null when there is no other model. */
  mean_distance_to_others: number | null;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number };
  cost_usd: number;
}

/**
 * `by_model` over `entries`. `distances` is the bundle's n×n matrix over
 * the entries in ascending index order (the contract's pairwise_distances).
 */
export function byModel(entries: readonly ModelEntry[], distances: readonly (readonly number[])[], consensus: unknown, metric: MetricLike = 'auto'): Record<string, ModelFigures> {
  const ordered = [...entries].sort((a, b) => a.index - b.index);
  const position = new Map(ordered.map((e, i) => [e.index, i]));
  const out: Record<string, ModelFigures> = {};
  const hasConsensus = consensus !== null && consensus !== undefined;
  for (const e of ordered) {
    const f = (out[e.model] ??= { replicates: [], valid: 0, agreement: null, mean_distance_to_others: null, usage: emptyUsage(), cost_usd: 0 });
    f.replicates.push(e.index);
    f.usage = addUsage(f.usage, e.usage);
    f.cost_usd = Math.round((f.cost_usd + e.cost_usd) * 1e9) / 1e9;
  }
  for (const [model, f] of Object.entries(out)) {
    const mine = ordered.filter((e) => e.model === model);
    const valid = mine.filter((e) => e.valid);
    f.valid = valid.length;
    if (hasConsensus && valid.length > 0) f.agreement = round(valid.reduce((s, e) => s + (1 - distanceBetween(e.output, consensus, metric)), 0) / valid.length);
    const others = ordered.filter((e) => e.model !== model);
    if (others.length > 0) {
      let sum = 0;
      for (const a of mine) for (const b of others) sum += distances[position.get(a.index) as number]?.[position.get(b.index) as number] ?? 1;
      f.mean_distance_to_others = round(sum / (mine.length * others.length));
    }
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
