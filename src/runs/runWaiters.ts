import type { RunResult } from '../schemas/result.ts';
import { isTerminal } from '../schemas/result.ts';
import type { Store } from '../store/types.ts';
import { HeadWatch } from './eventFeed.ts';

/** How a caller's wait for one run is resolved besides the run's own end. */
export interface WaitOptions {
  /** True while this process executes the run (its end then arrives through {@link RunWaiters.resolve}). */
  executingHere: () => boolean;
  /** Epoch ms after which a run nobody ended is looked at with `endIfStuck`. */
  giveUpAt: number;
  /** How long to wait before looking again when `endIfStuck` answers null (the run is still in play). */
  lookAgainMs: number;
  /** Ends a run nobody will end, answering its final record; null while someone may still end it. */
  endIfStuck: () => Promise<RunResult | null>;
}

/**
 * Callers waiting for runs accepted by this process, wherever the runs
 * execute (with a shared queue, often on another replica). A wait ends with
 * the first of: the local executor's {@link resolve}, the run's
 * `run_completed` from the store's pub/sub, a terminal status seen by the
 * run's head watch (pub/sub messages are lost while Redis is away), or
 * `endIfStuck` past the deadline.
 */
export class RunWaiters {
  readonly #store: Store;
  readonly #now: () => number;
  readonly #waiters = new Map<string, Set<(result: RunResult) => void>>();

  constructor(store: Store, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  /** Resolves with the run's final record. */
  wait(id: string, options: WaitOptions): Promise<RunResult> {
    const store = this.#store;
    return new Promise<RunResult>((resolve) => {
      let set = this.#waiters.get(id);
      if (!set) {
        set = new Set();
        this.#waiters.set(id, set);
      }
      let timer: NodeJS.Timeout | undefined;
      const waiter = (result: RunResult) => {
        unsubscribe();
        unwatch();
        clearTimeout(timer);
        const current = this.#waiters.get(id);
        current?.delete(waiter);
        if (current?.size === 0) this.#waiters.delete(id);
        resolve(result);
      };
      set.add(waiter);
      const unsubscribe = store.subscribe(id, (event) => {
        if (event.type === 'run_completed') waiter(event.result);
      });
      const unwatch = HeadWatch.of(store).watch(id, (head) => {
        if (head instanceof Error || head === null || !isTerminal(head.status) || options.executingHere()) return;
        store.getRun(id).then(
          (record) => record && isTerminal(record.status) && waiter(record),
          () => {},
        );
      });
      const lookAt = (delayMs: number) => {
        timer = setTimeout(
          () =>
            void options.endIfStuck().then(
              (record) => (record ? waiter(record) : lookAt(options.lookAgainMs)),
              () => lookAt(options.lookAgainMs),
            ),
          delayMs,
        );
        timer.unref();
      };
      lookAt(Math.max(0, options.giveUpAt - this.#now()));
    });
  }

  /** Hands a run's final record to everyone waiting for it here. */
  resolve(id: string, result: RunResult): void {
    const set = this.#waiters.get(id);
    if (!set) return;
    for (const waiter of [...set]) waiter(result);
  }
}

/**
 * The record of run `id` once it has ended (its `run_completed` heard from
 * the store), or as it stands after `waitMs` if it has not.
 */
export async function endOrCurrent(store: Store, id: string, record: RunResult, waitMs: number): Promise<RunResult> {
  if (isTerminal(record.status)) return record;
  let unsubscribe = () => {};
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<RunResult | null>((resolve) => {
    unsubscribe = store.subscribe(id, (event) => {
      if (event.type === 'run_completed') resolve(event.result);
    });
    timer = setTimeout(() => resolve(null), waitMs);
  });
  try {
    // It may have ended before the subscription: look once after subscribing.
    const now = await store.getRun(id);
    if (now && isTerminal(now.status)) return now;
    return (await ended) ?? (await store.getRun(id)) ?? now ?? record;
  } finally {
    clearTimeout(timer);
    unsubscribe();
  }
}
