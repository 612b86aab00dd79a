import { boundedLabel, type Metrics } from '../observability/metrics.ts';
import type { Redactor } from '../lib/redaction.ts';
import { isoMicros } from '../lib/clock.ts';
import type { Replicate } from '../schemas/bundle.ts';
import type { EmittedEvent, RunEvent } from '../schemas/events.ts';
import { rememberEventParts } from '../store/eventLog.ts';
import { jsonLength, rememberMerged } from '../store/jsonBytes.ts';
import type { Store } from '../store/types.ts';
import { flushOwed, type ActiveRun, type OwnEvent } from './runTypes.ts';

/** What stamping and storing events needs. */
export interface RunEventsDeps {
  store: Store;
  metrics: Metrics;
  redact: Redactor;
  redactEvents: boolean;
}

/** What every event of one run is stamped with besides its `seq` and `ts`. */
interface RunStamp {
  tool: { tool: string };
  ids: { run_id: string; trace_id: string; request_id: string };
}

/** Members a stamp sets: an event that carries one itself is measured whole. */
const STAMPED = ['seq', 'ts', 'run_id', 'trace_id', 'request_id'] as const;

/**
 * Remembers the stored size of `stamped` (`jsonBytes.ts`), which is
 * `{tool, ...event, ...own, ...ids}`, from its parts: the run's ids and tool
 * were measured with its first event, so of a stamp only `seq` and `ts` are
 * serialized per event. An event that sets a stamped member itself is left
 * to be measured whole by the store.
 */
function measureStamped(stamped: RunEvent, event: object, own: { seq: number; ts: string }, stamp: RunStamp): void {
  for (const key of STAMPED) if (key in event) return;
  rememberEventParts(event as { type: string });
  rememberMerged(stamped, 'tool' in event ? [event, own, stamp.ids] : [stamp.tool, event, own, stamp.ids]);
}

/**
 * The events of runs executing here: each one stamped (seq, ids, `ts`),
 * redacted when REDACT_EVENTS asks, folded into the live record and
 * appended to the store. Appends go out in call order, which keeps every
 * source's order.
 */
export class RunEvents {
  readonly #deps: RunEventsDeps;
  /** Clock of event `ts`: sub-millisecond unless a test injects one. */
  readonly #now: () => number;
  readonly #stamps = new WeakMap<ActiveRun, RunStamp>();

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
    const stamp = this.#stampOf(active);
    const own = { seq: ++active.seq, ts: isoMicros(this.#now()) };
    let stamped = {
      tool: stamp.tool.tool,
      ...event,
      seq: own.seq,
      run_id: stamp.ids.run_id,
      trace_id: stamp.ids.trace_id,
      request_id: stamp.ids.request_id,
      ts: own.ts,
    } as RunEvent;
    if (this.#deps.redactEvents) stamped = this.#deps.redact(stamped, 'event') as RunEvent;
    else if (this.#deps.store.measuresJson === true) measureStamped(stamped, event, own, stamp);
    if (stamped.type === 'replicate_done' && stamped.tool === active.tool.name) this.#trackReplicate(active, stamped.replicate);
    else if (stamped.type === 'replicate_done' && stamped.replicate.step !== undefined) active.partial.replicates.push(stamped.replicate);
    else if (stamped.type === 'partial_summary' && stamped.tool === active.tool.name) {
      active.partial.summary = stamped.summary;
      active.partial.statistics = stamped.statistics;
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

  /** The run's stamp members that never change, built (and so measured) once per run. */
  #stampOf(active: ActiveRun): RunStamp {
    let stamp = this.#stamps.get(active);
    if (stamp === undefined) {
      stamp = { tool: { tool: active.tool.name }, ids: { run_id: active.id, trace_id: active.trace.trace_id, request_id: active.trace.request_id } };
      jsonLength(stamp.tool, true);
      jsonLength(stamp.ids, true);
      this.#stamps.set(active, stamp);
    }
    return stamp;
  }

  /** Keeps the live record's partial bundle current for `GET /v1/runs/{id}` while the run works. */
  #trackReplicate(active: ActiveRun, replicate: Replicate): void {
    active.partial.replicates.push(replicate);
    const metrics = this.#deps.metrics;
    metrics.replicateLatency.observe({ provider: replicate.provider, model: metrics.modelLabel(replicate.model), status: replicate.status }, replicate.latency_ms / 1000);
    if (replicate.error && replicate.status === 'failed') metrics.providerErrors.inc({ provider: replicate.provider, code: replicate.error.code });
    // Providers are configured (a bounded set), models go through modelLabel, reasons are error codes.
    for (const step of replicate.fallbacks ?? []) metrics.fallbacks.inc({ provider: boundedLabel(step.provider), model: metrics.modelLabel(step.model), reason: step.reason });
  }
}
