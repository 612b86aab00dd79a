import CircuitBreaker from 'opossum';
import { ServiceError } from '../errors.ts';

/** Thresholds shared by every provider breaker. */
export interface BreakerOptions {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeout: number;
  rollingCountTimeout: number;
  /**
   * Most breakers kept (default 100, as many as the gateway keeps model
   * wrappers); the least recently used closed ones go first. A closed
   * breaker only loses its rolling counts when evicted, and each one holds
   * ~8 KB (opossum's rolling window), so the bound matters when requests name
   * many models.
   */
  maxBreakers?: number;
}

/** A breaker's state as shown in /metrics and /readyz. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * One opossum breaker per provider and model. `counts(error)` says whether a
 * failure is the provider's: caller mistakes and our own aborts never trip it.
 */
export class BreakerRegistry {
  readonly #options: BreakerOptions;
  readonly #counts: (error: unknown) => boolean;
  readonly #breakers = new Map<string, CircuitBreaker<[() => Promise<unknown>], unknown>>();
  #onStateChange: ((key: string, state: BreakerState) => void) | undefined;

  constructor(options: BreakerOptions, counts: (error: unknown) => boolean) {
    this.#options = options;
    this.#counts = counts;
  }

  /** Called on every transition (metrics, logs). */
  onStateChange(listener: (key: string, state: BreakerState) => void): void {
    this.#onStateChange = listener;
  }

  /** Runs `fn` through the breaker for `key`; fails fast with `circuit_open` when open. */
  async fire<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const breaker = this.#get(key);
    try {
      return (await breaker.fire(fn)) as T;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'EOPENBREAKER') {
        throw new ServiceError('circuit_open', `circuit for ${key} is open; failing fast`, { retryable: true, details: { breaker: key } });
      }
      throw error;
    }
  }

  /** Current state per key. */
  states(): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const [key, breaker] of this.#breakers) out[key] = stateOf(breaker);
    return out;
  }

  /** Stops the breakers' timers. */
  shutdown(): void {
    for (const breaker of this.#breakers.values()) breaker.shutdown();
    this.#breakers.clear();
  }

  #get(key: string): CircuitBreaker<[() => Promise<unknown>], unknown> {
    const existing = this.#breakers.get(key);
    if (existing) {
      // Refresh recency for the LRU bound.
      this.#breakers.delete(key);
      this.#breakers.set(key, existing);
      return existing;
    }
    const breaker = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
      name: key,
      timeout: false,
      errorThresholdPercentage: this.#options.errorThresholdPercentage,
      volumeThreshold: this.#options.volumeThreshold,
      resetTimeout: this.#options.resetTimeout,
      rollingCountTimeout: this.#options.rollingCountTimeout,
      errorFilter: (error: unknown) => !this.#counts(error),
    });
    breaker.on('open', () => this.#onStateChange?.(key, 'open'));
    breaker.on('halfOpen', () => this.#onStateChange?.(key, 'half_open'));
    breaker.on('close', () => this.#onStateChange?.(key, 'closed'));
    this.#breakers.set(key, breaker);
    this.#evict();
    return breaker;
  }

  #evict(): void {
    const max = this.#options.maxBreakers ?? 100;
    if (this.#breakers.size <= max) return;
    for (const [key, breaker] of this.#breakers) {
      if (stateOf(breaker) === 'closed') {
        breaker.shutdown();
        this.#breakers.delete(key);
        if (this.#breakers.size <= max) return;
      }
    }
  }
}

function stateOf(breaker: CircuitBreaker<[() => Promise<unknown>], unknown>): BreakerState {
  if (breaker.opened) return 'open';
  if (breaker.halfOpen) return 'half_open';
  return 'closed';
}
