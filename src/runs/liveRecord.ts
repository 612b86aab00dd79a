import { computeStatistics, summarize } from '../bundle/index.ts';
import type { Bundle } from '../schemas/bundle.ts';
import type { RunResult } from '../schemas/result.ts';
import type { ActiveRun } from './runTypes.ts';

/**
 * The record of a run still working here, as `GET /v1/runs/{id}` shows it:
 * the replicates arrived so far with a summary of them, and the spend so far.
 */
export function liveRecord(active: ActiveRun): RunResult {
  const { replicates, summary, statistics } = active.partial;
  if (active.record.bundle || replicates.length === 0) return active.record;
  // Replicates of a composite's steps are numbered per step: the live view numbers them in step order.
  const composite = replicates.some((r) => r.step !== undefined);
  const ordered = composite
    ? [...replicates].sort((a, b) => (a.step ?? '').localeCompare(b.step ?? '') || a.index - b.index).map((r, index) => ({ ...r, index }))
    : [...replicates].sort((a, b) => a.index - b.index);
  // The tool's own latest summary when it covers what has arrived; otherwise (between summaries, or a composite) one made now.
  const current = !composite && summary && statistics && statistics.completed === ordered.length;
  const bundle: Bundle = {
    replicates: ordered,
    summary: current ? summary : summarize(ordered, { merge: active.request.merge }),
    statistics: current ? statistics : computeStatistics(ordered, composite ? ordered.length : active.request.replicates),
    early_stop: { triggered: false, reason: null },
  };
  return { ...active.record, bundle, ...spendOf(active) };
}

/** What the run has spent so far, as its record shows it. */
export function spendOf(active: ActiveRun): Pick<RunResult, 'usage' | 'cost_usd' | 'cost_breakdown' | 'budget'> {
  return { usage: active.account.usage, cost_usd: active.account.costUsd, cost_breakdown: active.account.costBreakdown, budget: active.account.report() };
}
