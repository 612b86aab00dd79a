import { ServiceError } from '../errors.ts';

/**
 * When a provider:model breaker trips, how long it stays open, and how long a
 * retry may wait for it. Defaults and their anchors: docs/reliability.md.
 */
export interface BreakerOptions {
  /** Trip when failed calls are more than this share (%) of the window's calls... */
  errorThresholdPercentage: number;
  /** ...and the window holds at least this many calls. */
  volumeThreshold: number;
  /** Trip after this many failed calls in a row, whatever the volume. */
  consecutiveFailures: number;
  /** Open for this long, then half-open. */
  resetTimeout: number;
  /** The rolling window of call counts, in ms (kept in 10 buckets). */
  rollingCountTimeout: number;
  /** Longest a retry waits for an open breaker to let a probe through, or for the probe's verdict. */
  maxWaitMs: number;
  /**
   * Most breakers kept (default 100, as many as the gateway keeps model
   * wrappers); the least recently used idle closed ones go first, and lose
   * only their rolling counts.
   */
  maxBreakers?: number;
  /** The clock (default `Date.now`; fake timers drive it in tests). */
  now?: () => number;
}

/** A breaker's state as shown in /metrics and /readyz. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * What one provider call (all its retries) or one probe attempt tells the
 * breaker: the provider worked, the provider failed, or nothing about the
 * provider (the caller's fault, a 429, an abort, a call refused by the breaker).
 */
export type BreakerOutcome = 'success' | 'failure' | 'ignored';

/**
 * The breaker's reading of a mapped error: only provider faults count, and
 * of those not a 429 (rate limiting is handled by lowering concurrency, see
 * `adaptiveLimit.ts`) nor `circuit_open` (no request was sent).
 */
export function breakerOutcome(error: ServiceError): BreakerOutcome {
  if (error.fault !== 'provider') return 'ignored';
  if (error.code === 'rate_limited' || error.code === 'circuit_open') return 'ignored';
  return 'failure';
}
