import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import type { Store } from '../store/types.ts';

/** How long a finished run's closing event may lag its record before we stand in for it. */
const COMPLETION_GRACE_MS = 2000;

/** How often a follower of an unfinished run checks whether its record ended without a closing event (one store read per stream each time). */
const RECORD_CHECK_MS = 5000;

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
 * Works on any replica: it only reads the store.
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
      if (this.#caughtUp || event.seq === this.#last + 1) this.#push(event);
      else this.#waiting.push(event);
    });
  }

  /** True once `run_completed` was delivered or the follower was closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Delivers the stored events after the last one delivered, then what waited on them. */
  async catchUp(): Promise<void> {
    const history = await this.#store.readEvents(this.#runId, this.#last);
    for (const event of history) this.#push(event);
    for (const event of this.#waiting) this.#push(event);
    this.#waiting.length = 0;
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
    let timer: NodeJS.Timeout | undefined;
    const standIn = async () => {
      const record = await this.#store.getRun(this.#runId);
      if (record) this.#push(redact(completedFromRecord(record, this.#last + 1)));
      else this.close();
    };
    const watchRecord = async () => {
      const record = await this.#store.getRun(this.#runId);
      if (this.#ended) return;
      if (!record || isTerminal(record.status)) timer = setTimeout(() => void standIn().catch(() => this.close()), COMPLETION_GRACE_MS);
      else timer = setTimeout(() => void watchRecord().catch(() => this.close()), RECORD_CHECK_MS);
    };
    const ended = new Promise<void>((resolve) => {
      this.#onEnd = resolve;
    });
    const onAbort = () => this.close();
    signal.addEventListener('abort', onAbort, { once: true });
    await watchRecord().catch(() => this.close());
    try {
      await ended;
    } finally {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
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
