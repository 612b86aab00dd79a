import type { Replicate } from '../schemas/bundle.ts';
import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import type { ResolvedRequest } from '../toolkit/api.ts';

/** What a worker does with a run it picked up, judged from the run's record and event log. */
export type PickUp =
  /** Nothing happened yet: execute it. */
  | { kind: 'fresh' }
  /** Already ended; `completed` says whether its log has its `run_completed`. */
  | { kind: 'ended'; lastSeq: number; completed: boolean }
  /** Its executor died: continue, keeping the replicates that had finished. */
  | { kind: 'resume'; lastSeq: number; kept: Replicate[] }
  /** Its executor died and continuing is not safe: end it `worker_lost`. */
  | { kind: 'lost'; lastSeq: number; kept: Replicate[]; reason: string };

/** The time limits a run counts from its original start (its `created_at`). */
export interface RunDeadlines {
  timeoutMs: number;
  /** Epoch ms at which `timeout_ms` runs out. */
  timeoutAt: number;
  maxTimeMs: number | undefined;
  /** Epoch ms at which `budget.max_time_ms` runs out, if set. */
  maxTimeAt: number | undefined;
}

/** The deadlines of a run created at `createdAtMs`. */
export function deadlinesOf(createdAtMs: number, timeoutMs: number, request: ResolvedRequest): RunDeadlines {
  const maxTime = request.budget.max_time_ms;
  return { timeoutMs, timeoutAt: createdAtMs + timeoutMs, maxTimeMs: maxTime, maxTimeAt: maxTime === undefined ? undefined : createdAtMs + maxTime };
}

/**
 * Decides how a picked-up run goes on. Continuing is safe only where the
 * work is a single replicate pass of the run's own tool, whose finished
 * replicates are in the log with everything needed to rebuild the bundle
 * (each `replicate_done` carries the whole replicate; unfinished ones run
 * again with the same seeds). It is not safe, and the run ends
 * `worker_lost`, when:
 *  - its time is up (`timeout_ms` or `max_time_ms`, counted from creation);
 *  - the replicates had all finished (`bundle_ready` is logged): a
 *    synthesizer or the tool's last steps were half way, with spend and
 *    output that cannot be recovered;
 *  - a composite tool was at work (an inner tool's events, `tool_started`):
 *    inner runs have their own replicates and seeds;
 *  - it was already taken over `maxTakeovers` times.
 */
export function planPickUp(record: RunResult, events: readonly RunEvent[], deadlines: RunDeadlines, now: number, attempt: number, maxTakeovers: number): PickUp {
  const lastSeq = events.at(-1)?.seq ?? 0;
  if (isTerminal(record.status)) return { kind: 'ended', lastSeq, completed: events.some((e) => e.type === 'run_completed') };
  // Nothing announced yet (it died before run_started reached the log): start it as new; its timers count from creation.
  if (events.length === 0) return { kind: 'fresh' };
  const kept = new Map<number, Replicate>();
  let composite = false;
  let bundled = false;
  let takeovers = 0;
  for (const event of events) {
    if (event.type === 'run_resumed') takeovers++;
    else if (event.type === 'tool_started' || (event.tool !== undefined && event.tool !== record.tool)) composite = true;
    else if (event.type === 'bundle_ready') bundled = true;
    else if (event.type === 'replicate_done' && !kept.has(event.replicate.index)) kept.set(event.replicate.index, event.replicate);
  }
  const replicates = [...kept.values()].sort((a, b) => a.index - b.index);
  const lost = (reason: string): PickUp => ({ kind: 'lost', lastSeq, kept: replicates, reason });
  if (now >= deadlines.timeoutAt || (deadlines.maxTimeAt !== undefined && now >= deadlines.maxTimeAt)) return lost('its time ran out while no replica was executing it');
  if (composite) return lost('a composite tool was half way');
  if (bundled) return lost('its replicates had finished and the synthesizer or the tool was half way');
  if (takeovers >= maxTakeovers || attempt > maxTakeovers + 1) return lost(`it was taken over ${takeovers} times already`);
  return { kind: 'resume', lastSeq, kept: replicates };
}
