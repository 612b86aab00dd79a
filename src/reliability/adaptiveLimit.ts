import { KeyedLru } from '../lib/keyedLru.ts';

/** What a finished attempt tells the limit. */
export type LimitSignal = 'success' | 'rate_limited' | 'other';

/** A slot held by one attempt; `release` once, with what the provider said. */
export interface LimitSlot {
  release(signal: LimitSignal): void;
}

interface Waiter {
  grant: () => void;
}

/**
 * Provider calls in flight to one provider:model, bounded by a limit that
 * adapts to rate limiting (AIMD, as TCP's congestion control): a 429 halves
 * the limit, down to what was actually in flight (RFC 5681 halves the flight
 * size, not a window nobody used) and never below 1; each success adds one,
 * up to `max`. A burst of 429s from calls that were all in flight together
 * halves it once: a 429 from an attempt that started before the last
 * decrease is already accounted for. Waiting attempts queue in order and
 * leave the queue when their signal aborts.
 */
export class AdaptiveLimit {
  readonly #max: number;
  #limit: number;
  #inFlight = 0;
  #decreases = 0;
  readonly #queue: Waiter[] = [];

  constructor(max: number) {
    this.#max = Math.max(1, max);
    this.#limit = this.#max;
  }

  /** The current limit. */
  get limit(): number {
    return this.#limit;
  }

  /** Attempts holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** True when nothing holds or waits for a slot and the limit is back at its maximum. */
  get idle(): boolean {
    return this.#inFlight === 0 && this.#queue.length === 0 && this.#limit === this.#max;
  }

  /** Waits for a slot; rejects with the signal's reason if it aborts first. */
  acquire(signal: AbortSignal): Promise<LimitSlot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#inFlight < this.#limit && this.#queue.length === 0) return Promise.resolve(this.#take());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.#take());
        },
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  #take(): LimitSlot {
    this.#inFlight++;
    const epoch = this.#decreases;
    let released = false;
    return {
      release: (signal) => {
        if (released) return;
        released = true;
        if (signal === 'rate_limited' && epoch === this.#decreases) {
          this.#limit = Math.max(1, Math.floor(Math.min(this.#limit, this.#inFlight) / 2));
          this.#decreases++;
        } else if (signal === 'success' && this.#limit < this.#max) {
          this.#limit++;
        }
        this.#inFlight--;
        this.#pump();
      },
    };
  }

  #pump(): void {
    while (this.#inFlight < this.#limit && this.#queue.length > 0) this.#queue.shift()!.grant();
  }
}

/** One {@link AdaptiveLimit} per provider:model; idle ones past `maxKeys` are dropped, oldest first. */
export class AdaptiveLimits {
  readonly #max: number;
  readonly #limits: KeyedLru<AdaptiveLimit>;

  constructor(options: { max: number; maxKeys?: number }) {
    this.#max = options.max;
    this.#limits = new KeyedLru(options.maxKeys ?? 100, (limit) => limit.idle);
  }

  /** The limit of `key`, made on first use. */
  get(key: string): AdaptiveLimit {
    return this.#limits.get(key, () => new AdaptiveLimit(this.#max));
  }
}
