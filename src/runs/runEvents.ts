import { boundedLabel, type Metrics } from '../observability/metrics.ts';
import type { Redactor } from '../lib/redaction.ts';
import { isoMicros } from '../lib/clock.ts';
import type { Replicate } from '../schemas/bundle.ts';
import type { EmittedEvent, RunEvent } from '../schemas/events.ts';
import type { Store } from '../store/types.ts';
import { flushOwed, type ActiveRun, type OwnEvent } from './runTypes.ts';

/** What stamping and storing events needs. */
export interface RunEventsDeps {
  store: Store;
  metrics: Metrics;
  redact: Redactor;
  redactEvents: boolean;
}

/**
 * The events of runs executing here: each one stamped (seq, ids, `ts`),
 * redacted when REDACT_EVENTS asks, folded into the live record and
 * appended to the store. Appends go out in call order, which keeps every
 * source's order; for a run answered first they are made at the end of the
 * turn that emitted them ({@link ActiveRun.unsent}).
 */
export class RunEvents {
  readonly #deps: RunEventsDeps;
  /** Clock of event `ts`: sub-millisecond unless a test injects one. */
  readonly #now: () => number;

  constructor(deps: RunEventsDeps, now: () => number) {
    this.#deps = deps;
    this.#now = now;
  }

  started(active: ActiveRun): void {
    this.emit(active, { type: 'run_started', tool_version: active.tool.version, planner: active.record.planner, replicates: active.request.replicates });
  }

  /** Stamps and stores one event. */
  emit(active: ActiveRun, event: EmittedEvent | OwnEvent): void {
    if (active.relinquished) return;
    // run_started (still owed when the first provider request has not gone out yet) comes before anything else.
    flushOwed(active);
    const seq = ++active.seq;
    let stamped = {
      tool: active.tool.name,
      ...event,
      seq,
      run_id: active.id,
      trace_id: active.trace.trace_id,
      request_id: active.trace.request_id,
      ts: isoMicros(this.#now()),
    } as RunEvent;
    if (this.#deps.redactEvents) stamped = this.#deps.redact(stamped, 'event') as RunEvent;
    if (stamped.type === 'replicate_done' && (stamped.tool === active.tool.name || stamped.replicate.step !== undefined)) active.partial.replicates.push(stamped.replicate);
    else if (stamped.type === 'partial_summary' && stamped.tool === active.tool.name) {
      active.partial.summary = stamped.summary;
      active.partial.statistics = stamped.statistics;
    }
    if (active.unsent !== null) {
      // Answered first: stored at the end of this turn, after an answer sent in it (RunHandle.answer).
      active.unsent.push(stamped);
      if (active.unsent.length === 1) process.nextTick(() => this.flush(active));
      return;
    }
    this.#append(active, stamped);
  }

  /** Appends the events of `active` stamped but not yet stored, in order (a run answered first). */
  flush(active: ActiveRun): void {
    if (active.unsent === null || active.unsent.length === 0) return;
    for (const event of active.unsent.splice(0)) this.#append(active, event);
  }

  #append(active: ActiveRun, stamped: RunEvent): void {
    if (stamped.type === 'replicate_done' && stamped.tool === active.tool.name) {
      // Appends may run from a tick of their own (a run answered first), where nothing would catch a throw.
      try {
        this.#observe(stamped.replicate);
      } catch (error) {
        active.log.error({ err: error, seq: stamped.seq }, 'replicate metrics failed');
      }
    }
    let write: Promise<void> | void;
    try {
      write = this.#deps.store.appendEvent(stamped);
    } catch (error) {
      active.log.error({ err: error, seq: stamped.seq }, 'event append failed');
      return;
    }
    // Only a store that writes asynchronously leaves something to wait for.
    if (write === undefined) return;
    active.writes.push(write.catch((error: unknown) => active.log.error({ err: error, seq: stamped.seq }, 'event append failed')));
    // Keep the pending list short on long runs: settled writes need no tracking.
    if (active.writes.length > 64) active.writes = [Promise.allSettled(active.writes).then(() => undefined)];
  }

  /** A replicate of the run's own tool in the metrics (with its event: for a run answered first, after the answer). */
  #observe(replicate: Replicate): void {
    const metrics = this.#deps.metrics;
    metrics.replicateLatency.observe({ provider: replicate.provider, model: metrics.modelLabel(replicate.model), status: replicate.status }, replicate.latency_ms / 1000);
    if (replicate.error && replicate.status === 'failed') metrics.providerErrors.inc({ provider: replicate.provider, code: replicate.error.code });
    // Providers are configured (a bounded set), models go through modelLabel, reasons are error codes.
    for (const step of replicate.fallbacks ?? []) metrics.fallbacks.inc({ provider: boundedLabel(step.provider), model: metrics.modelLabel(step.model), reason: step.reason });
  }
}
