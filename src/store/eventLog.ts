import type { RunEvent } from '../schemas/events.ts';
import { jsonLength } from './jsonBytes.ts';

/**
 * Event-log byte accounting shared by the stores. A run's log holds at most
 * `maxEventLogBytes` (MAX_EVENT_LOG_BYTES) of events as they were emitted;
 * past that, what is stored is cut down: repeatable events (partial
 * summaries) are not stored at all, and milestones are stored with their
 * large payloads elided (`elided` names them; the full values are in the run
 * record, `GET /v1/runs/{id}`, and in `run_completed`). `run_completed` is
 * always stored whole: a follower that reads the log still gets the result.
 * Live subscribers always get every event whole.
 */

/** Payloads smaller than this are never worth eliding. */
export const ELIDE_MIN_BYTES = 2048;

/**
 * Bytes of an event as stored (its JSON; UTF-16 length, which is what a JS
 * string holds), exact. Its large parts are remembered first
 * ({@link rememberEventParts}); an event whose length was remembered when
 * it was stamped (`RunEvents`, from the unstamped event and the run's stamp)
 * is not measured again.
 */
export function eventBytes(event: RunEvent): number {
  rememberEventParts(event);
  return jsonLength(event);
}

/**
 * Measures and remembers the parts of an event that something else holds
 * too, so that is not serialized again (`jsonBytes.ts`): the replicate of a
 * `replicate_done` (in the bundle), the bundle of a `bundle_ready` (in the
 * final record, itself in `run_completed`), and the summary of a
 * `partial_summary` (the bundle's, when no replicate landed since).
 */
export function rememberEventParts(event: { type: string; replicate?: object; bundle?: object; summary?: object }): void {
  if (event.type === 'replicate_done' && event.replicate) jsonLength(event.replicate, true);
  else if (event.type === 'bundle_ready' && event.bundle) jsonLength(event.bundle, true);
  else if (event.type === 'partial_summary' && event.summary) jsonLength(event.summary, true);
}

/** The form of `event` stored past the byte bound: null when it is not stored at all. */
export function elide(event: RunEvent): RunEvent | null {
  switch (event.type) {
    case 'partial_summary':
      return null;
    case 'replicate_done':
      if (event.replicate.output === null) return event;
      return { ...event, replicate: { ...event.replicate, output: null }, elided: ['replicate.output'] } as RunEvent;
    case 'bundle_ready':
      return {
        ...event,
        bundle: {
          ...event.bundle,
          replicates: event.bundle.replicates.map((r) => (r.output === null ? r : { ...r, output: null })),
          // Disagreements quote the replicates' differing values: as large as the outputs themselves.
          summary: { ...event.bundle.summary, disagreements: [] },
        },
        elided: ['bundle.replicates.output', 'bundle.summary.disagreements'],
      } as RunEvent;
    case 'synthesis_done':
      if (event.output === null) return event;
      return { ...event, output: null, elided: ['output'] } as RunEvent;
    default:
      return event;
  }
}

/** Whether an event may be cut down at all (the rest is stored whole whatever the log holds). */
export function isElidable(event: RunEvent): boolean {
  return event.type === 'partial_summary' || event.type === 'replicate_done' || event.type === 'bundle_ready' || event.type === 'synthesis_done';
}

/**
 * What to store for `event` on a log holding `log.bytes` in `log.length`
 * events: the event itself while it fits, else its cut-down form (or
 * nothing), with the bytes the log grows by. Partial summaries also stop
 * being stored past `maxEventsPerRun` events (MAX_EVENTS_PER_RUN).
 */
export function fitEvent(
  event: RunEvent,
  log: { bytes: number; length: number },
  limits: { maxEventLogBytes: number; maxEventsPerRun: number },
  bytes: number = eventBytes(event),
): { stored: RunEvent | null; bytes: number } {
  const fitsBytes = log.bytes + bytes <= limits.maxEventLogBytes;
  if (event.type === 'partial_summary') return fitsBytes && log.length < limits.maxEventsPerRun ? { stored: event, bytes } : { stored: null, bytes: 0 };
  if (fitsBytes || bytes < ELIDE_MIN_BYTES) return { stored: event, bytes };
  const stored = elide(event);
  if (stored === null) return { stored: null, bytes: 0 };
  return { stored, bytes: stored === event ? bytes : eventBytes(stored) };
}
