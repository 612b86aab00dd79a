import type { BreakerOptions, BreakerState } from './breakerTypes.ts';
import { CircuitBreaker } from './breakers.ts';

/** One {@link CircuitBreaker} per provider:model, least recently used idle ones evicted past `maxBreakers`. */
export class BreakerRegistry {
  readonly #options: BreakerOptions;
  readonly #breakers = new Map<string, CircuitBreaker>();
  #onStateChange: ((key: string, state: BreakerState) => void) | undefined;

  constructor(options: BreakerOptions) {
    this.#options = options;
  }

  /** Called on every transition (metrics, logs). */
  onStateChange(listener: (key: string, state: BreakerState) => void): void {
    this.#onStateChange = listener;
  }

  /** The breaker of `key`, made on first use. */
  get(key: string): CircuitBreaker {
    const existing = this.#breakers.get(key);
    if (existing) {
      // Refresh recency for the LRU bound.
      this.#breakers.delete(key);
      this.#breakers.set(key, existing);
      return existing;
    }
    const breaker = new CircuitBreaker(key, this.#options, (state) => this.#onStateChange?.(key, state));
    this.#breakers.set(key, breaker);
    this.#evict();
    return breaker;
  }

  /** Current state per key. */
  states(): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const [key, breaker] of this.#breakers) out[key] = breaker.state;
    return out;
  }

  /** Stops the breakers' timers. */
  shutdown(): void {
    for (const breaker of this.#breakers.values()) breaker.shutdown();
    this.#breakers.clear();
  }

  #evict(): void {
    const max = this.#options.maxBreakers ?? 100;
    if (this.#breakers.size <= max) return;
    for (const [key, breaker] of this.#breakers) {
      if (breaker.idle) {
        this.#breakers.delete(key);
        if (this.#breakers.size <= max) return;
      }
    }
  }
}
