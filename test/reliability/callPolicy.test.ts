import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ServiceError } from '../../src/errors.ts';
import { CallPolicy } from '../../src/reliability/callPolicy.ts';

const fail500 = () => new ServiceError('provider_error', 'provider answered 500', { retryable: true, fault: 'provider' });
const fail400 = () => new ServiceError('provider_error', 'provider answered 400', { retryable: false, fault: 'caller' });
const fail429 = () => new ServiceError('rate_limited', 'provider answered 429', { retryAfterMs: 1000 });

function policy(overrides: { consecutiveFailures?: number; maxAttempts?: number } = {}) {
  return new CallPolicy({
    retry: { maxAttempts: overrides.maxAttempts ?? 3, baseMs: 100, maxDelayMs: 1000, maxTotalMs: 30_000 },
    breaker: {
      errorThresholdPercentage: 50,
      volumeThreshold: 20,
      consecutiveFailures: overrides.consecutiveFailures ?? 2,
      resetTimeout: 30_000,
      rollingCountTimeout: 60_000,
      maxWaitMs: 5_000,
    },
    maxConcurrencyPerKey: 8,
    classify: (e) => (e instanceof ServiceError ? e : new ServiceError('internal', String(e))),
    logger: pino({ level: 'silent' }),
    random: () => 0.5,
  });
}

/** An attempt function answering from a script, one entry per attempt. */
function script(...answers: Array<ServiceError | 'ok'>) {
  let i = 0;
  const send = vi.fn(async () => {
    const a = answers[i++] ?? 'ok';
    if (a === 'ok') return 'answer';
    throw a;
  });
  return send;
}

/** Lets the retry waits (under 2 s each here) pass, but not the breaker's 30 s reset. */
async function settle<T>(p: Promise<T>): Promise<T | unknown> {
  const result = p.catch((e: unknown) => e);
  await vi.advanceTimersByTimeAsync(5_000);
  return result;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('call policy: retries, breaker and 429 limit together', () => {
  it('500, 500, 200 is one successful call: the breaker (2 failures in a row trip it) stays closed', async () => {
    const p = policy();
    const send = script(fail500(), fail500());
    expect(await settle(p.run('sim:m', new AbortController().signal, send))).toBe('answer');
    expect(send).toHaveBeenCalledTimes(3);
    expect(p.breakerStates()).toEqual({ 'sim:m': 'closed' });
  });

  it('two calls that each failed all their attempts open it; the next call fails fast without an attempt', async () => {
    const p = policy();
    const signal = new AbortController().signal;
    for (let i = 0; i < 2; i++) await settle(p.run('sim:m', signal, script(fail500(), fail500(), fail500())));
    expect(p.breakerStates()).toEqual({ 'sim:m': 'open' });
    const send = script();
    expect(await settle(p.run('sim:m', signal, send))).toMatchObject({ code: 'circuit_open' });
    expect(send).not.toHaveBeenCalled();
  });

  it('400s and 429s never count, and are not retried (400) or retried after Retry-After (429)', async () => {
    const p = policy({ consecutiveFailures: 1 });
    const signal = new AbortController().signal;
    const rejected = script(fail400());
    expect(await settle(p.run('sim:m', signal, rejected))).toMatchObject({ code: 'provider_error', fault: 'caller' });
    expect(rejected).toHaveBeenCalledTimes(1);
    const limited = script(fail429(), fail429(), fail429());
    expect(await settle(p.run('sim:m', signal, limited))).toMatchObject({ code: 'rate_limited' });
    expect(limited).toHaveBeenCalledTimes(3);
    expect(p.breakerStates()).toEqual({ 'sim:m': 'closed' });
  });

  it('an aborted call tells the breaker nothing', async () => {
    const p = policy({ consecutiveFailures: 1 });
    const controller = new AbortController();
    const pending = p.run('sim:m', controller.signal, async () => {
      controller.abort(new ServiceError('cancelled', 'run cancelled'));
      throw fail500();
    });
    expect(await settle(pending)).toBeDefined();
    expect(p.breakerStates()).toEqual({ 'sim:m': 'closed' });
  });

  it('keys are separate: one model\'s outage does not open another\'s breaker', async () => {
    const p = policy({ consecutiveFailures: 1, maxAttempts: 1 });
    await settle(p.run('sim:a', new AbortController().signal, script(fail500())));
    expect(await settle(p.run('sim:b', new AbortController().signal, script()))).toBe('answer');
    expect(p.breakerStates()).toEqual({ 'sim:a': 'open', 'sim:b': 'closed' });
  });
});
