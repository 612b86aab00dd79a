import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/errors.ts';
import { parseRetryAfter } from '../../src/providers/errorMap.ts';
import { nextRetryDelay, type RetryPolicy } from '../../src/reliability/retry.ts';

const policy: RetryPolicy = { maxAttempts: 4, baseMs: 100, maxDelayMs: 1000, maxTotalMs: 5000 };
const providerFailure = (opts: { retryable?: boolean; retryAfterMs?: number; code?: 'provider_error' | 'rate_limited' | 'circuit_open'; fault?: 'caller' | 'provider' | 'service' } = {}): ServiceError =>
  new ServiceError(opts.code ?? 'provider_error', 'x', { retryable: opts.retryable ?? true, fault: opts.fault ?? 'provider', ...(opts.retryAfterMs !== undefined ? { retryAfterMs: opts.retryAfterMs } : {}) });

describe('retry policy', () => {
  it('waits a full-jitter delay under base * 2^(attempt-1), capped by maxDelayMs', () => {
    expect(nextRetryDelay({ failure: providerFailure(), attempt: 1, waitedMs: 0, policy, random: () => 0.999 })).toBe(99);
    expect(nextRetryDelay({ failure: providerFailure(), attempt: 3, waitedMs: 0, policy, random: () => 0.5 })).toBe(200);
    expect(nextRetryDelay({ failure: providerFailure(), attempt: 3, waitedMs: 0, policy: { ...policy, maxAttempts: 10 }, random: () => 0 })).toBe(0);
    expect(nextRetryDelay({ failure: providerFailure(), attempt: 8, waitedMs: 0, policy: { ...policy, maxAttempts: 10 }, random: () => 0.999 })).toBe(999);
  });

  it('stops after maxAttempts', () => {
    expect(nextRetryDelay({ failure: providerFailure(), attempt: 4, waitedMs: 0, policy, random: () => 0.5 })).toBeNull();
  });

  it('never retries a caller or service fault, a non-retryable error or an open circuit', () => {
    expect(nextRetryDelay({ failure: providerFailure({ fault: 'caller' }), attempt: 1, waitedMs: 0, policy, random: () => 0.5 })).toBeNull();
    expect(nextRetryDelay({ failure: providerFailure({ fault: 'service' }), attempt: 1, waitedMs: 0, policy, random: () => 0.5 })).toBeNull();
    expect(nextRetryDelay({ failure: providerFailure({ retryable: false }), attempt: 1, waitedMs: 0, policy, random: () => 0.5 })).toBeNull();
    expect(nextRetryDelay({ failure: providerFailure({ code: 'circuit_open' }), attempt: 1, waitedMs: 0, policy, random: () => 0.5 })).toBeNull();
  });

  it('honours Retry-After as a floor, and gives up when it would pass the total cap', () => {
    expect(nextRetryDelay({ failure: providerFailure({ retryAfterMs: 1500 }), attempt: 1, waitedMs: 0, policy, random: () => 0.5 })).toBe(1500);
    expect(nextRetryDelay({ failure: providerFailure({ retryAfterMs: 4000 }), attempt: 1, waitedMs: 2000, policy, random: () => 0.5 })).toBeNull();
  });
});

describe('Retry-After parsing', () => {
  it('reads retry-after-ms first, then seconds, then an HTTP date', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '9' })).toBe(250);
    expect(parseRetryAfter({ 'retry-after': '2' })).toBe(2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }, now)).toBe(3000);
    expect(parseRetryAfter({ 'retry-after': 'soon' })).toBeUndefined();
    expect(parseRetryAfter(new Headers({ 'retry-after': '1' }))).toBe(1000);
  });
});
