import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, type BreakerOptions, type BreakerState } from '../../src/reliability/breakers.ts';

const base: BreakerOptions = {
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  consecutiveFailures: 5,
  resetTimeout: 30_000,
  rollingCountTimeout: 60_000,
  maxWaitMs: 5_000,
};

function breaker(options: Partial<BreakerOptions> = {}) {
  const transitions: BreakerState[] = [];
  const b = new CircuitBreaker('sim:gpt-4o-mini', { ...base, ...options }, (s) => transitions.push(s));
  return { b, transitions };
}

const live = () => new AbortController().signal;

/** Records `n` finished logical calls with the same outcome, each admitted as a first attempt. */
async function calls(b: CircuitBreaker, n: number, outcome: 'success' | 'failure' | 'ignored') {
  for (let i = 0; i < n; i++) {
    const call = b.call();
    const settle = await call.attempt(1, live());
    settle(outcome);
    call.end(outcome);
  }
}

/** Drives a breaker from closed to open with consecutive failures. */
async function trip(b: CircuitBreaker) {
  await calls(b, base.consecutiveFailures, 'failure');
  expect(b.state).toBe('open');
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('circuit breaker: when it trips', () => {
  it('opens after 5 consecutive failed calls, not after 4', async () => {
    const { b, transitions } = breaker();
    await calls(b, 4, 'failure');
    expect(b.state).toBe('closed');
    await calls(b, 1, 'failure');
    expect(b.state).toBe('open');
    expect(transitions).toEqual(['open']);
  });

  it('a success breaks the streak of failures', async () => {
    const { b } = breaker();
    await calls(b, 4, 'failure');
    await calls(b, 1, 'success');
    await calls(b, 4, 'failure');
    expect(b.state).toBe('closed');
  });

  it('ignored outcomes (caller faults, 429s, aborts) neither trip it nor break a streak', async () => {
    const { b } = breaker();
    await calls(b, 100, 'ignored');
    expect(b.state).toBe('closed');
    await calls(b, 4, 'failure');
    await calls(b, 10, 'ignored');
    expect(b.state).toBe('closed');
    await calls(b, 1, 'failure');
    expect(b.state).toBe('open');
  });

  it('opens on an error rate above the threshold once the window holds the minimum volume', async () => {
    const { b } = breaker({ consecutiveFailures: 1000 });
    // 10 of 20 failed, the 20th a failure: exactly 50 %, not above it.
    for (let i = 0; i < 10; i++) {
      await calls(b, 1, 'success');
      await calls(b, 1, 'failure');
    }
    expect(b.state).toBe('closed');
    await calls(b, 1, 'failure');
    expect(b.state).toBe('open');
  });

  it('does not open on a high error rate below the minimum volume', async () => {
    const { b } = breaker({ consecutiveFailures: 1000, volumeThreshold: 20 });
    await calls(b, 1, 'success');
    await calls(b, 18, 'failure');
    expect(b.state).toBe('closed');
  });

  it('forgets calls older than the rolling window', async () => {
    const { b } = breaker({ consecutiveFailures: 1000, volumeThreshold: 4, rollingCountTimeout: 10_000 });
    await calls(b, 3, 'failure');
    vi.advanceTimersByTime(11_000);
    await calls(b, 3, 'success');
    // Within the window: 3 successes and this failure, 25 %.
    await calls(b, 1, 'failure');
    expect(b.state).toBe('closed');
  });

  it('counts one logical call once, however many attempts it took', async () => {
    const { b } = breaker({ consecutiveFailures: 2 });
    // Attempts 1 and 2 failed (500, 500), attempt 3 succeeded: one successful call.
    const call = b.call();
    for (const outcome of ['failure', 'failure', 'success'] as const) {
      const settle = await call.attempt(1, live());
      settle(outcome);
    }
    call.end('success');
    await calls(b, 1, 'failure');
    expect(b.state).toBe('closed');
  });
});

describe('circuit breaker: open and half-open', () => {
  it('refuses a first attempt at once while open, and turns half-open after the reset timeout', async () => {
    const { b, transitions } = breaker();
    await trip(b);
    await expect(b.call().attempt(1, live())).rejects.toMatchObject({ code: 'circuit_open', details: { breaker: 'sim:gpt-4o-mini' } });
    vi.advanceTimersByTime(29_999);
    expect(transitions).toEqual(['open']);
    vi.advanceTimersByTime(1);
    expect(transitions).toEqual(['open', 'half_open']);
    expect(b.state).toBe('half_open');
  });

  it('lets exactly one probe through; a success closes it', async () => {
    const { b, transitions } = breaker();
    await trip(b);
    vi.advanceTimersByTime(30_000);
    const probe = b.call();
    const settle = await probe.attempt(1, live());
    await expect(b.call().attempt(1, live())).rejects.toMatchObject({ code: 'circuit_open' });
    settle('success');
    probe.end('success');
    expect(b.state).toBe('closed');
    expect(transitions).toEqual(['open', 'half_open', 'closed']);
    // Closed with fresh counts: the next call goes through.
    await expect(b.call().attempt(1, live())).resolves.toBeTypeOf('function');
  });

  it('a probe that fails opens it again for another reset timeout', async () => {
    const { b, transitions } = breaker();
    await trip(b);
    vi.advanceTimersByTime(30_000);
    (await b.call().attempt(1, live()))('failure');
    expect(b.state).toBe('open');
    expect(transitions).toEqual(['open', 'half_open', 'open']);
  });

  it('a cancelled or caller-fault probe (outcome ignored) leaves it half-open and frees the probe slot', async () => {
    const outcome = 'ignored' as const;
    const { b, transitions } = breaker();
    await trip(b);
    vi.advanceTimersByTime(30_000);
    const probe = b.call();
    (await probe.attempt(1, live()))(outcome);
    probe.end(outcome);
    expect(b.state).toBe('half_open');
    expect(transitions).toEqual(['open', 'half_open']);
    // Another probe may go, and its success closes the breaker.
    (await b.call().attempt(1, live()))('success');
    expect(b.state).toBe('closed');
  });

  it('a probe that hangs frees the slot after the reset timeout; a late cancel of it does not free the new one', async () => {
    const { b } = breaker();
    await trip(b);
    vi.advanceTimersByTime(30_000);
    const settleHung = await b.call().attempt(1, live());
    await expect(b.call().attempt(1, live())).rejects.toMatchObject({ code: 'circuit_open' });
    vi.advanceTimersByTime(30_000);
    const settleSecond = await b.call().attempt(1, live());
    settleHung('ignored');
    await expect(b.call().attempt(1, live())).rejects.toMatchObject({ code: 'circuit_open' });
    settleSecond('success');
    expect(b.state).toBe('closed');
  });

  it('the probe call is not counted again when it ends', async () => {
    const { b } = breaker({ consecutiveFailures: 1 });
    await calls(b, 1, 'failure');
    vi.advanceTimersByTime(30_000);
    const probe = b.call();
    (await probe.attempt(1, live()))('success');
    // Its end outcome would be a failure of a closed breaker with consecutiveFailures 1 if it were counted.
    probe.end('failure');
    expect(b.state).toBe('closed');
  });
});

describe('circuit breaker: a retry waits for the probe', () => {
  it('a retry that meets it open shortly before half-open waits and becomes the probe', async () => {
    const { b } = breaker({ resetTimeout: 3_000 });
    await trip(b);
    let admitted: { probe: boolean; id: number } | undefined;
    void b.admit(live(), true).then((p) => (admitted = p));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(admitted).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(admitted).toMatchObject({ probe: true });
  });

  it('a retry that meets a probe in flight waits for its verdict: closed lets it through', async () => {
    const { b } = breaker();
    await trip(b);
    vi.advanceTimersByTime(30_000);
    const settleProbe = await b.call().attempt(1, live());
    let admitted: { probe: boolean; id: number } | undefined;
    void b.admit(live(), true).then((p) => (admitted = p));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(admitted).toBeUndefined();
    settleProbe('success');
    await vi.advanceTimersByTimeAsync(0);
    expect(admitted).toMatchObject({ probe: false });
  });

  it('a waiting retry becomes the next probe when the probe is cancelled', async () => {
    const { b } = breaker();
    await trip(b);
    vi.advanceTimersByTime(30_000);
    const settleProbe = await b.call().attempt(1, live());
    const waiting = b.admit(live(), true);
    settleProbe('ignored');
    await expect(waiting).resolves.toMatchObject({ probe: true });
  });

  it('fails circuit_open when the probe fails and the breaker stays open longer than it may wait', async () => {
    const { b } = breaker({ resetTimeout: 30_000, maxWaitMs: 5_000 });
    await trip(b);
    vi.advanceTimersByTime(30_000);
    const settleProbe = await b.call().attempt(1, live());
    const waiting = b.admit(live(), true);
    settleProbe('failure');
    await expect(waiting).rejects.toMatchObject({ code: 'circuit_open' });
  });

  it('fails at once when the breaker stays open longer than the wait bound', async () => {
    const { b } = breaker({ resetTimeout: 30_000, maxWaitMs: 5_000 });
    await trip(b);
    await expect(b.admit(live(), true)).rejects.toMatchObject({ code: 'circuit_open' });
  });

  it('gives up after maxWaitMs when the probe takes too long', async () => {
    const { b } = breaker({ maxWaitMs: 5_000 });
    await trip(b);
    vi.advanceTimersByTime(30_000);
    await b.call().attempt(1, live());
    let error: unknown;
    void b.admit(live(), true).catch((e: unknown) => (error = e));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(error).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(error).toMatchObject({ code: 'circuit_open' });
  });

  it('stops waiting when the run is cancelled, with the run\'s reason', async () => {
    const { b } = breaker({ resetTimeout: 3_000 });
    await trip(b);
    const controller = new AbortController();
    const waiting = b.admit(controller.signal, true);
    controller.abort(new Error('run cancelled'));
    await expect(waiting).rejects.toThrow('run cancelled');
    // The abandoned wait left no timer behind except the breaker's own half-open timer.
    expect(vi.getTimerCount()).toBe(1);
  });

  it('a first attempt never waits', async () => {
    const { b } = breaker({ resetTimeout: 1_000 });
    await trip(b);
    await expect(b.call().attempt(1, live())).rejects.toMatchObject({ code: 'circuit_open' });
  });
});
