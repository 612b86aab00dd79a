import pRetry from 'p-retry';
import type { ServiceError } from '../errors.ts';

/** How hard to try a provider call. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff base: attempt n waits up to base * 2^(n-1). */
  baseMs: number;
  /** Cap on one wait (not on a provider's explicit Retry-After, which may only shorten the total). */
  maxDelayMs: number;
  /** Cap on all waits of one call together. */
  maxTotalMs: number;
}

/**
 * The retry decision as a pure function: how long to wait before the next
 * attempt, or null to stop. Full jitter (AWS architecture blog, "Exponential
 * Backoff and Jitter") spreads synchronized clients; a provider's
 * Retry-After is honoured as a floor.
 */
export function nextRetryDelay(input: { failure: ServiceError; attempt: number; waitedMs: number; policy: RetryPolicy; random: () => number }): number | null {
  const { failure, attempt, waitedMs, policy, random } = input;
  // Only the provider's failures are worth another try: the caller's (a 400, a refusal) would fail the same way,
  // the service's are not the provider's to fix, and an open circuit is the answer for now (retrying it would only spin).
  if (!failure.retryable || failure.fault !== 'provider' || failure.code === 'circuit_open') return null;
  if (attempt >= policy.maxAttempts) return null;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  const delay = failure.retryAfterMs !== undefined ? Math.max(failure.retryAfterMs, jittered) : jittered;
  if (waitedMs + delay > policy.maxTotalMs) return null;
  return delay;
}

/** Waits `ms`, or rejects with the signal's reason when it aborts. Uses the global timers so fake timers drive it. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` under the policy with p-retry. p-retry owns the attempt
 * loop and the signal; the wait itself is ours so it can follow Retry-After
 * and full jitter. Retrying stops at once when `signal` aborts (cancel,
 * timeout, budget).
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  options: { policy: RetryPolicy; signal: AbortSignal; classify: (error: unknown) => ServiceError; random?: () => number; onRetry?: (info: { attempt: number; delayMs: number; failure: ServiceError }) => void },
): Promise<T> {
  const { policy, signal, classify } = options;
  const random = options.random ?? Math.random;
  let waitedMs = 0;
  return pRetry(attempt, {
    retries: Math.max(0, policy.maxAttempts - 1),
    minTimeout: 0,
    maxTimeout: 0,
    randomize: false,
    signal,
    shouldRetry: async ({ error, attemptNumber }) => {
      const failure = classify(error);
      const delay = nextRetryDelay({ failure, attempt: attemptNumber, waitedMs, policy, random });
      if (delay === null) return false;
      options.onRetry?.({ attempt: attemptNumber, delayMs: delay, failure });
      await sleep(delay, signal);
      waitedMs += delay;
      return true;
    },
  });
}
