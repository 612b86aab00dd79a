import type { Logger } from 'pino';
import type { ServiceError } from '../errors.ts';
import { AdaptiveLimits, type LimitSignal, type LimitSlot } from './adaptiveLimit.ts';
import { BreakerRegistry } from './breakerRegistry.ts';
import { breakerOutcome, type BreakerOptions, type BreakerOutcome, type BreakerState } from './breakerTypes.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

/** Everything that decides how one provider call is tried. */
export interface CallPolicyOptions {
  retry: RetryPolicy;
  breaker: BreakerOptions;
  /** Ceiling of the adaptive limit of attempts in flight per key. */
  maxConcurrencyPerKey: number;
  /** The provider error map: what an error means (code, retryable, fault). */
  classify: (error: unknown) => ServiceError;
  logger: Logger;
  /** Deterministic jitter for tests. */
  random?: (() => number) | undefined;
}

/**
 * How one logical provider call is tried, per `provider:model` key: retries
 * (full jitter, Retry-After), the key's breaker admitting each attempt and
 * counting the call once after its retries, and the key's adaptive limit
 * lowering the attempts in flight after a 429. The gateway supplies the
 * attempt itself (the global semaphore, the SDK call).
 */
export class CallPolicy {
  readonly #options: CallPolicyOptions;
  readonly #breakers: BreakerRegistry;
  readonly #limits: AdaptiveLimits;

  constructor(options: CallPolicyOptions) {
    this.#options = options;
    this.#breakers = new BreakerRegistry(options.breaker);
    this.#breakers.onStateChange((key, state) => options.logger.warn({ breaker: key, state }, `circuit ${state}`));
    this.#limits = new AdaptiveLimits({ max: options.maxConcurrencyPerKey });
  }

  /**
   * Runs `send` (one attempt) under the policy until it succeeds or the
   * policy gives up; rejects with what `send` threw last, or `circuit_open`.
   * `signal` ends every wait (backoff, breaker, slot) at once.
   */
  run<T>(key: string, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
    const { classify } = this.#options;
    const call = this.#breakers.get(key).call();
    const limit = this.#limits.get(key);
    const value = withRetry(
      async (n) => {
        const settle = await call.attempt(n, signal);
        let outcome: BreakerOutcome = 'ignored';
        let said: LimitSignal = 'other';
        let slot: LimitSlot | undefined;
        try {
          slot = await limit.acquire(signal);
          const result = await send();
          outcome = 'success';
          said = 'success';
          return result;
        } catch (error) {
          // An aborted attempt says nothing about the provider, however its socket died.
          if (!signal.aborted) {
            const mapped = classify(error);
            outcome = breakerOutcome(mapped);
            if (mapped.code === 'rate_limited') said = 'rate_limited';
          }
          throw error;
        } finally {
          const before = limit.limit;
          slot?.release(said);
          if (limit.limit < before) this.#options.logger.warn({ limiter: key, limit: limit.limit }, 'provider rate limited: concurrency lowered');
          settle(outcome);
        }
      },
      { policy: this.#options.retry, signal, classify, ...(this.#options.random ? { random: this.#options.random } : {}) },
    );
    value.then(
      () => call.end('success'),
      (error: unknown) => call.end(signal.aborted ? 'ignored' : breakerOutcome(classify(error))),
    );
    return value;
  }

  /** Breaker state per key. */
  breakerStates(): Record<string, BreakerState> {
    return this.#breakers.states();
  }

  /** Stops the breakers' timers. */
  shutdown(): void {
    this.#breakers.shutdown();
  }
}
