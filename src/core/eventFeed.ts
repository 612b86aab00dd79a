import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import type { Store } from '../store/types.ts';

/** How long a finished run's closing event may lag its record before we stand in for it. */
const COMPLETION_GRACE_MS = 2000;

/**
 * A run's events after `after`, then live ones until `run_completed`.
 * Subscribes before reading history so nothing falls between the two; live
 * events already seen in history are skipped by `seq`. Works on any replica:
 * it only reads the store.
 */
export async function* followRun(
  store: Store,
  runId: string,
  after: number,
  signal: AbortSignal,
  /** Applied to a closing event rebuilt from the record (stored events were redacted when emitted). */
  redact: (event: RunEvent) => RunEvent = (event) => event,
): AsyncGenerator<RunEvent> {
  const queue: RunEvent[] = [];
  let wake: (() => void) | null = null;
  const unsubscribe = store.subscribe(runId, (event) => {
    queue.push(event);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  let last = after;
  try {
    for (const event of await store.readEvents(runId, after)) {
      last = event.seq;
      yield event;
      if (event.type === 'run_completed') return;
    }
    const record = await store.getRun(runId);
    let deadline = record && isTerminal(record.status) ? Date.now() + COMPLETION_GRACE_MS : Number.POSITIVE_INFINITY;
    while (!signal.aborted) {
      while (queue.length > 0) {
        const event = queue.shift() as RunEvent;
        if (event.seq <= last) continue;
        last = event.seq;
        yield event;
        if (event.type === 'run_completed') return;
      }
      if (Date.now() >= deadline) {
        // The log lost its end (evicted or the owner died after saving): close with the record itself.
        const final = (await store.getRun(runId)) as RunResult;
        yield redact(completedFromRecord(final, last + 1));
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (deadline !== Number.POSITIVE_INFINITY) setTimeout(resolve, Math.max(0, deadline - Date.now())).unref();
      });
      wake = null;
      if (deadline === Number.POSITIVE_INFINITY && queue.length === 0) {
        const current = await store.getRun(runId);
        if (current && isTerminal(current.status)) deadline = Date.now() + COMPLETION_GRACE_MS;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    unsubscribe();
  }
}

/** A `run_completed` event rebuilt from a stored record (for replays after the log expired). */
export function completedFromRecord(record: RunResult, seq: number): RunEvent {
  return {
    type: 'run_completed',
    seq,
    run_id: record.id,
    trace_id: record.trace_id,
    request_id: record.request_id,
    ts: record.completed_at ?? new Date().toISOString(),
    tool: record.tool,
    result: record,
  };
}
