import type { BreakerOptions, BreakerState } from './breakerTypes.ts';
import { CircuitBreaker } from './breakers.ts';
import { KeyedLru } from '../lib/keyedLru.ts';

/** One {@link CircuitBreaker} per provider:model, least recently used idle ones evicted past `maxBreakers`. */
export class BreakerRegistry {
  readonly #options: BreakerOptions;
  readonly #breakers: KeyedLru<CircuitBreaker>;
  #onStateChange: ((key: string, state: BreakerState) => void) | undefined;

  constructor(options: BreakerOptions) {
    this.#options = options;
    this.#breakers = new KeyedLru(options.maxBreakers ?? 100, (breaker) => breaker.idle);
  }

  /** Called on every transition (metrics, logs). */
  onStateChange(listener: (key: string, state: BreakerState) => void): void {
    this.#onStateChange = listener;
  }

  /** The breaker of `key`, made on first use. */
  get(key: string): CircuitBreaker {
    return this.#breakers.get(key, () => new CircuitBreaker(key, this.#options, (state) => this.#onStateChange?.(key, state)));
  }

  /** Current state per key. */
  states(): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const [key, breaker] of this.#breakers.entries()) out[key] = breaker.state;
    return out;
  }

  /** Stops the breakers' timers. */
  shutdown(): void {
    for (const [, breaker] of this.#breakers.entries()) breaker.shutdown();
    this.#breakers.clear();
  }
}
