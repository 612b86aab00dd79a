import { computeStatistics, summarize, type BundleSummary, type PairwiseMatrix, type TextComparer } from '../bundle/index.ts';
import type { Replicate, Summary } from '../schemas/bundle.ts';
import type { ResolvedRequest } from '../toolkit/api.ts';
import type { SchemaValidator } from '../lib/validator.ts';
import { partialEntry } from '../toolkit/runMemory.ts';
import type { PanelPlan } from './panelPlan.ts';
import type { ReplicateEnv } from './replicateEnv.ts';

/** Up to this many replicates, every arrival (or burst of arrivals) publishes a partial summary; past it, about this many in all. */
const PARTIAL_SUMMARY_TARGET = 20;

/**
 * The summaries of one replicate pass: `partial_summary` events as
 * replicates land (replicates that land together share one, published once
 * the burst has been taken in), and the last summary, reused for the bundle
 * when nothing changed since.
 */
export class PartialSummaries {
  readonly #env: ReplicateEnv;
  readonly #request: ResolvedRequest;
  readonly #matrix: PairwiseMatrix;
  readonly #texts: TextComparer;
  readonly #finished: readonly Replicate[];
  readonly #panel: PanelPlan;
  readonly #every: number;
  /** The latest summary and how many replicates it covered. */
  #latest: { summary: Summary; covers: number } | null = null;
  #pending: NodeJS.Immediate | null = null;

  constructor(env: ReplicateEnv, request: ResolvedRequest, matrix: PairwiseMatrix, texts: TextComparer, finished: readonly Replicate[], panel: PanelPlan) {
    this.#env = env;
    this.#request = request;
    this.#matrix = matrix;
    this.#texts = texts;
    this.#finished = finished;
    this.#panel = panel;
    const n = request.replicates;
    this.#every = n <= PARTIAL_SUMMARY_TARGET ? 1 : Math.ceil(n / PARTIAL_SUMMARY_TARGET);
  }

  /** The summary over what has finished now (kept as the latest). */
  now(): Summary {
    const summary = this.#summaryOf(this.#finished);
    this.#latest = { summary, covers: this.#finished.length };
    return summary;
  }

  /** After an arrival: schedules a partial summary when one is due. */
  arrived(): void {
    const count = this.#finished.length;
    if ((count % this.#every === 0 || count === this.#request.replicates) && this.#pending === null) this.#pending = setImmediate(() => this.#publish());
  }

  /** Publishes the pending partial summary now: the last one goes out before the bundle, never after it. */
  flush(): void {
    if (this.#pending === null) return;
    clearImmediate(this.#pending);
    this.#publish();
  }

  /** The bundle's summary over `replicates` (every index, in order). */
  final(replicates: readonly Replicate[]): Summary {
    return this.#summaryOf(replicates);
  }

  #publish(): void {
    this.#pending = null;
    const summary = this.#summaryOf(this.#finished);
    this.#latest = { summary, covers: this.#finished.length };
    this.#env.emit({ type: 'partial_summary', summary, statistics: computeStatistics(this.#finished, this.#request.replicates), budget_used: this.#env.account.report().used });
    this.#env.memory?.record(this.#env.memory.ownKeys.partial, partialEntry(summary, this.#finished.length, this.#request.replicates));
  }

  #summaryOf(replicates: readonly Replicate[]): Summary {
    const latest = this.#latest;
    return latest?.covers === replicates.length ? latest.summary : summarizeFinished(replicates, this.#matrix, this.#texts, this.#request, this.#env.validator, this.#panel);
  }
}

/** The summary over what has finished; the merged consensus is checked against the output schema too. */
function summarizeFinished(replicates: readonly Replicate[], matrix: PairwiseMatrix, texts: TextComparer, request: ResolvedRequest, validator: SchemaValidator, panel: PanelPlan): Summary {
  const summary: BundleSummary = summarize(replicates, { matrix, merge: panel.merge(replicates), mergeOptions: { texts } });
  const schema = request.agent.output_schema;
  if (!schema || summary.consensus === null || summary.consensus === undefined) return summary;
  return { ...summary, consensus_valid: validator.validate(schema, summary.consensus).valid };
}
