/** Options of a {@link Semaphore}. */
export interface SemaphoreOptions {
  /** Slots one key (tenant) may hold at once; unset, a key may take every slot. */
  perKeyLimit?: number | undefined;
}

interface Waiter {
  key: string;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** The key of callers that name none. */
const DEFAULT_KEY = '';

/**
 * Bounds concurrent work, fairly across keys (tenants). Waiters of one key
 * queue in FIFO order; a freed slot goes to the keys with waiters in
 * round-robin order, so one key's backlog delays another key's next waiter
 * by at most one turn, not by the whole backlog. With `perKeyLimit`, a key
 * holding that many slots waits even while slots are free.
 *
 * A waiter whose signal aborts leaves the queue at once, so a cancelled run
 * never holds a slot. Callers that pass no key share one queue: then it is
 * the plain FIFO semaphore it always was.
 */
export class Semaphore {
  readonly #limit: number;
  readonly #perKey: number;
  #active = 0;
  #waiting = 0;
  /** Slots held per key (only keys holding some). */
  readonly #held = new Map<string, number>();
  /** FIFO queues per key; Map order is the round-robin order (a served key moves to the back). */
  readonly #queues = new Map<string, Waiter[]>();

  constructor(limit: number, options: SemaphoreOptions = {}) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
    const perKey = options.perKeyLimit ?? limit;
    if (!Number.isInteger(perKey) || perKey < 1) throw new RangeError(`per-key limit must be a positive integer, got ${perKey}`);
    this.#limit = limit;
    this.#perKey = Math.min(perKey, limit);
  }

  /** Slots in use. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Slots `key` holds. */
  heldBy(key: string = DEFAULT_KEY): number {
    return this.#held.get(key) ?? 0;
  }

  /** Waits for a slot; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal, key: string = DEFAULT_KEY): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // Nobody of this key waits ahead, so taking a free slot now jumps no queue of its own key.
    if (this.#active < this.#limit && this.heldBy(key) < this.#perKey && !this.#queues.has(key)) {
      this.#take(key);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        key,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const queue = this.#queues.get(key);
          const i = queue ? queue.indexOf(waiter) : -1;
          if (queue && i >= 0) {
            queue.splice(i, 1);
            this.#waiting--;
            if (queue.length === 0) this.#queues.delete(key);
          }
          reject(signal?.reason);
          // A slot may be free for someone else now that this waiter no longer blocks its key's queue.
          this.#dispatch();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      let queue = this.#queues.get(key);
      if (!queue) {
        queue = [];
        this.#queues.set(key, queue);
      }
      queue.push(waiter);
      this.#waiting++;
    });
  }

  /** Returns a slot of `key`, handing it to the next waiter in round-robin order. */
  release(key: string = DEFAULT_KEY): void {
    const held = this.heldBy(key);
    if (held <= 0) throw new Error(`semaphore release without a slot held by key "${key}"`);
    if (held === 1) this.#held.delete(key);
    else this.#held.set(key, held - 1);
    this.#active--;
    this.#dispatch();
  }

  /** Runs `fn` inside a slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal, key: string = DEFAULT_KEY): Promise<T> {
    await this.acquire(signal, key);
    try {
      return await fn();
    } finally {
      this.release(key);
    }
  }

  #take(key: string): void {
    this.#active++;
    this.#held.set(key, this.heldBy(key) + 1);
  }

  /** Hands free slots to waiting keys, one per key per turn. */
  #dispatch(): void {
    while (this.#active < this.#limit && this.#queues.size > 0) {
      let served = false;
      for (const [key, queue] of this.#queues) {
        if (this.heldBy(key) >= this.#perKey) continue;
        const next = queue.shift() as Waiter;
        this.#waiting--;
        this.#queues.delete(key);
        // Back of the round: other keys go first next time.
        if (queue.length > 0) this.#queues.set(key, queue);
        next.signal?.removeEventListener('abort', next.onAbort);
        this.#take(key);
        next.resolve();
        served = true;
        break;
      }
      if (!served) return;
    }
  }
}
