/**
 * Run statistics for the Evidence Bundle: how many replicates were asked
 * for, how they ended, and how long the completed ones took.
 */
import { compareNumbers } from './order.ts';

/** Terminal state of one replicate. */
export type ReplicateStatus = 'succeeded' | 'failed' | 'cancelled';

/** What statistics need to know about one replicate. */
export interface ReplicateOutcome {
  /** How the replicate ended. */
  readonly status: ReplicateStatus;
  /** Wall-clock latency; absent or `null` when unknown. */
  readonly latency_ms?: number | null;
}

/** Latency summary in milliseconds. */
export interface LatencySummary {
  min: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** The bundle's `statistics` block. */
export interface RunStatistics {
  requested: number;
  /** succeeded + failed (cancelled replicates did not complete). */
  completed: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Over completed replicates with a known latency; `null` when there are none. */
  latency_ms: LatencySummary | null;
}

/**
 * Counts outcomes and summarises latency. Only completed replicates
 * contribute latency: a cancelled replicate's latency measures when it was
 * cancelled, not how long the model takes. Percentiles use the nearest-rank
 * method, so every reported percentile is an observed latency.
 */
export function computeStatistics(replicates: readonly ReplicateOutcome[], requested: number): RunStatistics {
  let succeeded = 0;
  let failed = 0;
  let cancelled = 0;
  const latencies: number[] = [];
  for (const r of replicates) {
    if (r.status === 'cancelled') {
      cancelled++;
      continue;
    }
    if (r.status === 'succeeded') succeeded++;
    else failed++;
    const l = r.latency_ms;
    if (typeof l === 'number' && Number.isFinite(l) && l >= 0) latencies.push(l);
  }
  return {
    requested,
    completed: succeeded + failed,
    succeeded,
    failed,
    cancelled,
    latency_ms: summarizeLatency(latencies),
  };
}

function summarizeLatency(values: number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sorted = values.sort(compareNumbers);
  const rank = (p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    min: sorted[0] as number,
    p50: rank(0.5),
    p95: rank(0.95),
    max: sorted[sorted.length - 1] as number,
    mean: sum / sorted.length,
  };
}
