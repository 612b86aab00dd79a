import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import type { RunHead, Store, Unsubscribe } from '../store/types.ts';

/** How long a finished run's closing event may lag its record before we stand in for it. */
const COMPLETION_GRACE_MS = 2000;

/**
 * How often a run with followers on this replica has its head (status and
 * last seq, a few bytes) read: once per run per replica, whatever the number
 * of followers or the size of the record.
 */
export const HEAD_CHECK_MS = 2000;

/** What one check of a run's head found: the head, null (no such run), or the store's error. */
type HeadReading = RunHead | null | Error;

interface WatchedRun {
  listeners: Set<(reading: HeadReading) => void>;
  timer: NodeJS.Timeout;
  last: HeadReading | undefined;
}

/**
 * One head check per watched run, shared by every follower of that run on
 * this replica (one per store). A follower uses it to notice what live
 * delivery cannot tell it: a run that ended without its closing event
 * reaching us, or events we missed while the store was away.
 */
export class HeadWatch {
  static readonly #byStore = new WeakMap<Store, HeadWatch>();
  readonly #store: Store;
  readonly #runs = new Map<string, WatchedRun>();

  private constructor(store: Store) {
    this.#store = store;
  }

  /** The watch of `store` (created on first use, dropped with the store). */
  static of(store: Store): HeadWatch {
    let watch = HeadWatch.#byStore.get(store);
    if (!watch) {
      watch = new HeadWatch(store);
      HeadWatch.#byStore.set(store, watch);
    }
    return watch;
  }

  /** Runs watched now (for tests and leak checks). */
  get size(): number {
    return this.#runs.size;
  }

  /** Calls `listener` with each reading of the run's head: at once when one is known, then every {@link HEAD_CHECK_MS}. */
  watch(runId: string, listener: (reading: HeadReading) => void): Unsubscribe {
    let run = this.#runs.get(runId);
    if (!run) {
      const created: WatchedRun = { listeners: new Set(), timer: setInterval(() => void this.#check(runId, created), HEAD_CHECK_MS), last: undefined };
      created.timer.unref();
      this.#runs.set(runId, created);
      run = created;
      void this.#check(runId, created);
    } else if (run.last !== undefined) {
      const last = run.last;
      queueMicrotask(() => listener(last));
    }
    const own = run;
    own.listeners.add(listener);
    return () => {
      own.listeners.delete(listener);
      if (own.listeners.size > 0 || this.#runs.get(runId) !== own) return;
      clearInterval(own.timer);
      this.#runs.delete(runId);
    };
  }

  async #check(runId: string, run: WatchedRun): Promise<void> {
    let reading: HeadReading;
    try {
      reading = await this.#store.runStatus(runId);
    } catch (error) {
      reading = error instanceof Error ? error : new Error(String(error));
    }
    run.last = reading;
    for (const listener of run.listeners) listener(reading);
  }
}

/**
 * Follows one run's events for one reader, in `seq` order, each event once.
 *
 * Live events are handed to `deliver` synchronously, from inside the
 * store's fan-out (and so from inside the orchestrator's emit): an event
 * reaches the reader's socket before the run does its next piece of work.
 * History fills what the subscription missed: until {@link catchUp} has
 * read it, only an event that directly follows the last delivered one is
 * passed through; others wait for the history to place them.
 *
 * Works on any replica: it only reads the store. Between events it relies
 * on the run's shared {@link HeadWatch}: a store outage keeps the follower
 * open (the stream sends heartbeats) and, once the store answers again, the
 * events it missed are read from the log.
 */
export class RunFollower {
  readonly #store: Store;
  readonly #runId: string;
  readonly #deliver: (event: RunEvent) => void;
  readonly #unsubscribe: () => void;
  /** Live events that arrived ahead of a gap, before the history was read. */
  readonly #waiting: RunEvent[] = [];
  #last: number;
  #caughtUp = false;
  #ended = false;
  #onEnd: (() => void) | null = null;

  /** Subscribes at once, so nothing emitted from now on is missed. */
  constructor(store: Store, runId: string, after: number, deliver: (event: RunEvent) => void) {
    this.#store = store;
    this.#runId = runId;
    this.#last = after;
    this.#deliver = deliver;
    this.#unsubscribe = store.subscribe(runId, (event) => {
      if (event.seq === this.#last + 1) this.#push(event);
      else if (event.seq > this.#last) {
        // Live events are dense: one that jumps ahead means some were missed (the store was away).
        this.#waiting.push(event);
        if (this.#caughtUp) void this.catchUp().catch(() => {});
      }
    });
  }

  /** True once `run_completed` was delivered or the follower was closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Delivers the stored events after the last one delivered, then the live
   * ones that waited on them, as far as they follow on without a gap (a gap
   * waits for the next catch-up).
   */
  async catchUp(): Promise<void> {
    if (this.#ended) return;
    const history = await this.#store.readEvents(this.#runId, this.#last);
    for (const event of history) this.#push(event);
    this.#waiting.sort((a, b) => a.seq - b.seq);
    let used = 0;
    for (const event of this.#waiting) {
      if (event.seq > this.#last + 1) break;
      this.#push(event);
      used++;
    }
    this.#waiting.splice(0, used);
    this.#caughtUp = true;
  }

  /**
   * Resolves once `run_completed` was delivered, or when `signal` aborts.
   * A run whose record ended but whose log lost its closing event (evicted,
   * or its owner died after saving) is closed with an event rebuilt from
   * the record, passed through `redact` (stored events were redacted when
   * emitted).
   */
  async finished(signal: AbortSignal, redact: (event: RunEvent) => RunEvent = (event) => event): Promise<void> {
    if (!this.#caughtUp) await this.catchUp();
    if (this.#ended || signal.aborted) return this.close();
    let grace: NodeJS.Timeout | undefined;
    /** The last seq delivered at the previous reading: a head beyond it twice in a row means live delivery missed something. */
    let seenAtLastReading = -1;
    let reading = false;
    const standIn = async () => {
      grace = undefined;
      await this.catchUp();
      if (this.#ended) return;
      const record = await this.#store.getRun(this.#runId);
      if (record && isTerminal(record.status)) this.#push(redact(completedFromRecord(record, this.#last + 1)));
      // Gone only if the head says so too: a run whose writes this replica still holds (Redis came back empty) is not.
      else if (!record && (await this.#store.runStatus(this.#runId)) === null) this.close();
    };
    const onReading = (head: HeadReading) => {
      if (this.#ended || reading || head instanceof Error) return;
      if (head === null || isTerminal(head.status)) {
        grace ??= setTimeout(() => void standIn().catch(() => {}), COMPLETION_GRACE_MS);
        return;
      }
      if (head.seq > this.#last && seenAtLastReading === this.#last) {
        reading = true;
        this.catchUp().then(
          () => (reading = false),
          () => (reading = false),
        );
      }
      seenAtLastReading = this.#last;
    };
    const ended = new Promise<void>((resolve) => {
      this.#onEnd = resolve;
    });
    const onAbort = () => this.close();
    signal.addEventListener('abort', onAbort, { once: true });
    const unwatch = HeadWatch.of(this.#store).watch(this.#runId, onReading);
    try {
      await ended;
    } finally {
      unwatch();
      signal.removeEventListener('abort', onAbort);
      clearTimeout(grace);
    }
  }

  /** Stops following; nothing is delivered afterwards. */
  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unsubscribe();
    this.#waiting.length = 0;
    this.#onEnd?.();
  }

  #push(event: RunEvent): void {
    if (this.#ended || event.seq <= this.#last) return;
    this.#last = event.seq;
    this.#deliver(event);
    if (event.type === 'run_completed') this.close();
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
