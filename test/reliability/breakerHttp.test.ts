import { describe, expect, it, vi } from 'vitest';
import { getJson, postJson, servicePerTest, type TestService } from '../helpers/service.ts';

/**
 * The breaker, the error table and the adaptive limit seen from outside:
 * real HTTP to the service, the real openai and Agents SDKs, the simulator's
 * fault injection and request counts.
 */
const service = servicePerTest();

const KEY = 'simulator:gpt-4o-mini';
/** The state of the one breaker these tests use, from /readyz (which counts breakers by state without naming them). */
async function breakerState(svc: TestService): Promise<string> {
  const { open, half_open: halfOpen } = (await getJson(`${svc.url}/readyz`)).body.checks.breakers as { open: number; half_open: number };
  expect(open + halfOpen).toBeLessThanOrEqual(1);
  return open === 1 ? 'open' : halfOpen === 1 ? 'half_open' : 'closed';
}
async function untilState(svc: TestService, state: string) {
  await vi.waitFor(async () => expect(await breakerState(svc)).toBe(state), { timeout: 5_000, interval: 20 });
}
/** The breaker's transitions, in order, from the service's `circuit <state>` log lines. */
function transitions(svc: TestService): string[] {
  return svc.logs
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes('"breaker"'))
    .map((line) => (JSON.parse(line) as { state: string }).state);
}
const run = (svc: TestService, body: Record<string, unknown>, headers: Record<string, string> = {}) => postJson(`${svc.url}/v1/runs`, body, headers);

describe('a blip the retry policy absorbed is not an outage', () => {
  it('500,500→200, then a 400, then a 429 with Retry-After: 1: succeeded, failed, succeeded, breaker closed', async () => {
    // Thresholds low enough that counting attempts (2 failures in a row, 3 of 5 failed) would open it.
    const svc = await service({ BREAKER_VOLUME: '2', BREAKER_CONSECUTIVE_FAILURES: '2', BREAKER_ERROR_PERCENT: '50' });

    svc.sim.configure({ faults: [{ type: 'status', status: 500 }, { type: 'status', status: 500 }] });
    const first = await run(svc, { input: 'flaky', replicates: 1 });
    expect(first.body.status).toBe('succeeded');
    expect(first.body.bundle.replicates[0].attempts).toBe(3);

    svc.sim.configure({ faults: [{ type: 'status', status: 400 }] });
    const second = await run(svc, { input: 'bad request upstream', replicates: 1 });
    expect(second.body.status).toBe('failed');
    expect(second.body.bundle.replicates[0].error).toMatchObject({ code: 'provider_error', retryable: false });

    svc.sim.configure({ faults: [{ type: 'status', status: 429, headers: { 'retry-after': '1' } }] });
    const third = await run(svc, { input: 'rate limited once', replicates: 1 });
    expect(third.body.status).toBe('succeeded');
    expect(third.body.bundle.replicates[0].attempts).toBe(2);
    const [limited, retried] = svc.sim.requests.slice(-2);
    expect(retried!.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(1000);

    expect(svc.sim.stats().received).toBe(3 + 1 + 2);
    expect(await breakerState(svc)).toBe('closed');
    expect(transitions(svc)).toEqual([]);
  });

  it('a sustained outage still opens it after 5 failed calls, then fails fast with no provider request', async () => {
    const svc = await service();
    svc.sim.configure({ faultRate: { probability: 1, status: 500 } });
    for (let i = 0; i < 5; i++) {
      const failed = await run(svc, { input: `outage ${i}`, replicates: 1 });
      // Each call is counted once, after its 3 attempts: the breaker is still closed for the 5th.
      expect(failed.body.bundle.replicates[0]).toMatchObject({ attempts: 3, error: { code: 'provider_error', retryable: true } });
    }
    expect(svc.sim.stats().received).toBe(15);
    expect(await breakerState(svc)).toBe('open');

    const fast = await run(svc, { input: 'fail fast', replicates: 3 });
    expect(fast.body.status).toBe('failed');
    expect(fast.body.error.code).toBe('circuit_open');
    for (const r of fast.body.bundle.replicates) expect(r).toMatchObject({ attempts: 0, error: { code: 'circuit_open', details: { breaker: KEY } } });
    expect(svc.sim.stats().received).toBe(15);
  });
});

describe('half-open probes', () => {
  async function halfOpen(env: Record<string, string> = {}) {
    const svc = await service({ BREAKER_CONSECUTIVE_FAILURES: '1', RETRY_MAX_ATTEMPTS: '1', BREAKER_RESET_MS: '200', ...env });
    svc.sim.configure({ faults: [{ type: 'status', status: 500 }] });
    await run(svc, { input: 'trip it', replicates: 1 });
    expect(await breakerState(svc)).toBe('open');
    await untilState(svc, 'half_open');
    return svc;
  }

  it('a cancelled probe leaves it half-open; the next probe that succeeds closes it', async () => {
    const svc = await halfOpen();
    svc.sim.configure({ faults: [{ type: 'hang' }] });
    const started = await run(svc, { input: 'probe that hangs', replicates: 1, background: true });
    await vi.waitFor(() => expect(svc.sim.stats().inFlight).toBe(1), { timeout: 5_000, interval: 10 });
    const cancelled = await postJson(`${svc.url}/v1/runs/${started.body.id}/cancel`, {});
    expect(cancelled.body.status).toBe('cancelled');
    await vi.waitFor(() => expect(svc.sim.stats().aborted).toBe(1), { timeout: 5_000, interval: 10 });
    expect(await breakerState(svc)).toBe('half_open');
    expect(transitions(svc)).toEqual(['open', 'half_open']);

    const healed = await run(svc, { input: 'real success', replicates: 1 });
    expect(healed.body.status).toBe('succeeded');
    expect(await breakerState(svc)).toBe('closed');
  });

  it('a probe answered 400 (the caller\'s fault) leaves it half-open', async () => {
    const svc = await halfOpen();
    svc.sim.configure({ faults: [{ type: 'status', status: 400 }] });
    const rejected = await run(svc, { input: 'bad probe', replicates: 1 });
    expect(rejected.body.bundle.replicates[0].error).toMatchObject({ code: 'provider_error', retryable: false });
    expect(await breakerState(svc)).toBe('half_open');
  });

  it('a probe answered 500 opens it again', async () => {
    const svc = await halfOpen();
    svc.sim.configure({ faults: [{ type: 'status', status: 500 }] });
    await run(svc, { input: 'still down', replicates: 1 });
    // Read from the transition log: with a 200 ms reset the state itself may already be half-open again.
    expect(transitions(svc)).toEqual(['open', 'half_open', 'open']);
  });

  it.each([
    ['waits for the half-open probe and succeeds', '5000', { status: 'succeeded', attempts: 2 }],
    ['fails circuit_open at once with BREAKER_WAIT_MS=0', '0', { status: 'failed', attempts: 1, error: { code: 'circuit_open' } }],
  ])('a replicate whose retry meets the breaker just opened by another %s', async (_name, wait, slow) => {
    const svc = await service({ BREAKER_CONSECUTIVE_FAILURES: '1', RETRY_MAX_ATTEMPTS: '2', BREAKER_RESET_MS: '1000', BREAKER_WAIT_MS: wait });
    // Requests in arrival order: the fast replicate's 500, the slow one's 500 (600 ms later), the fast one's retry 500
    // (its call fails: the breaker opens for 1 s), then the slow one's retry meets the open breaker, ~400 ms before half-open.
    svc.sim.configure({
      latencyMs: { sequence: [0, 600] },
      faults: [{ type: 'status', status: 500 }, { type: 'status', status: 500 }, { type: 'status', status: 500 }],
    });
    const { body } = await run(svc, { input: 'two replicates', replicates: 2 });
    const [fast, other] = [...body.bundle.replicates].sort((a: any, b: any) => a.latency_ms - b.latency_ms);
    expect(fast).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'provider_error' } });
    expect(other).toMatchObject(slow);
    expect(transitions(svc)[0]).toBe('open');
  });
});

describe('only provider faults count', () => {
  it('one tenant\'s 20 refused replicates never open the breaker; another tenant\'s run right after succeeds', async () => {
    const svc = await service({ API_KEYS: 'tenant-a-key-0001,tenant-b-key-0002' });
    svc.sim.configure({ faults: Array.from({ length: 20 }, () => ({ type: 'refusal' as const })) });
    const refused = await run(svc, { input: 'something the model refuses', replicates: 20 }, { authorization: 'Bearer tenant-a-key-0001' });
    expect(refused.body.status).toBe('failed');
    expect(refused.body.bundle.replicates).toHaveLength(20);
    for (const r of refused.body.bundle.replicates) {
      expect(r).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'provider_error', retryable: false, details: { reason: 'model_refusal' } } });
    }
    // Never retried: the same prompt would be refused again.
    expect(svc.sim.stats().received).toBe(20);
    expect(await breakerState(svc)).toBe('closed');

    const other = await run(svc, { input: 'a fine question', replicates: 3 }, { authorization: 'Bearer tenant-b-key-0002' });
    expect(other.body.status).toBe('succeeded');
    expect(svc.sim.stats().received).toBe(23);
  });

  it('refusals on the Responses API are the caller\'s too', async () => {
    const svc = await service({ OPENAI_API: 'responses', BREAKER_CONSECUTIVE_FAILURES: '2' });
    svc.sim.configure({ faults: Array.from({ length: 4 }, () => ({ type: 'refusal' as const, refusal: 'Not with that.' })) });
    const refused = await run(svc, { input: 'refuse me', replicates: 4 });
    for (const r of refused.body.bundle.replicates) {
      expect(r.error).toMatchObject({ code: 'provider_error', details: { reason: 'model_refusal', refusal: 'Not with that.' } });
    }
    expect(await breakerState(svc)).toBe('closed');
  });
});

describe('429 lowers concurrency instead of tripping', () => {
  it('after a 429, calls in flight to that model drop and grow back one per success', async () => {
    const svc = await service({ MAX_CONCURRENCY: '8', BREAKER_CONSECUTIVE_FAILURES: '1' });
    const eight = { input: 'fan out', replicates: 8 };
    svc.sim.configure({ latencyMs: 200 });
    await run(svc, eight);
    expect(svc.sim.stats().maxInFlight).toBe(8);

    svc.sim.reset();
    svc.sim.configure({ faults: [{ type: 'status', status: 429, headers: { 'retry-after-ms': '0' } }] });
    const limited = await run(svc, { input: 'rate limited', replicates: 1 });
    expect(limited.body.bundle.replicates[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(svc.logs.join('')).toContain('concurrency lowered');

    // The 429 halved the limit to 1, its retry's success made it 2, and each success adds one: after s
    // successes at most min(2 + s, 8 - s) of the 8 calls are in flight, never more than 5.
    svc.sim.reset();
    svc.sim.configure({ latencyMs: 200 });
    const lowered = await run(svc, eight);
    expect(lowered.body.status).toBe('succeeded');
    expect(svc.sim.stats().maxInFlight).toBeGreaterThanOrEqual(2);
    expect(svc.sim.stats().maxInFlight).toBeLessThanOrEqual(5);

    svc.sim.reset();
    svc.sim.configure({ latencyMs: 200 });
    await run(svc, eight);
    expect(svc.sim.stats().maxInFlight).toBe(8);
    expect(await breakerState(svc)).toBe('closed');
  });
});
