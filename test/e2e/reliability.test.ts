import { describe, expect, it } from 'vitest';
import { getJson, postJson, servicePerTest, type TestService } from '../helpers/service.ts';
import { waitFor } from '../helpers/waitFor.ts';

const service = servicePerTest();

describe('retries', () => {
  it('retries a 500 twice, then succeeds with attempts: 3 after exactly 3 provider requests', async () => {
    const svc = await service();
    svc.sim.configure({ faults: [{ type: 'status', status: 500 }, { type: 'status', status: 500 }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'flaky', replicates: 1 });
    expect(body.status).toBe('succeeded');
    expect(body.bundle.replicates[0].attempts).toBe(3);
    expect(svc.sim.stats().received).toBe(3);
  });

  it('does not retry a 400: one request, replicate failed, retryable false', async () => {
    const svc = await service();
    svc.sim.configure({ faults: [{ type: 'status', status: 400 }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'bad request upstream', replicates: 1 });
    expect(svc.sim.stats().received).toBe(1);
    const r = body.bundle.replicates[0];
    expect(r.status).toBe('failed');
    expect(r.attempts).toBe(1);
    expect(r.error).toMatchObject({ code: 'provider_error', retryable: false });
    expect(body.status).toBe('failed');
  });

  it.each([401, 403, 404, 422])('never retries a %i', async (status) => {
    const svc = await service();
    svc.sim.configure({ faults: [{ type: 'status', status }] });
    await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1 });
    expect(svc.sim.stats().received).toBe(1);
  });

  it('retries connection resets and 429/503', async () => {
    const svc = await service({ RETRY_MAX_ATTEMPTS: '4' });
    svc.sim.configure({ faults: [{ type: 'reset' }, { type: 'status', status: 503 }, { type: 'status', status: 429 }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1 });
    expect(body.bundle.replicates[0]).toMatchObject({ status: 'succeeded', attempts: 4 });
  });

  it('waits at least Retry-After before retrying a 429', async () => {
    const svc = await service();
    svc.sim.configure({ faults: [{ type: 'status', status: 429, headers: { 'retry-after': '1' } }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'rate limited', replicates: 1 });
    expect(body.bundle.replicates[0].attempts).toBe(2);
    const [first, second] = svc.sim.requests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(1000);
  });

  it('stops retrying at once when the run is cancelled', async () => {
    // A wait far longer than any stall of a loaded machine: a cancel that waited for it could not pass.
    const svc = await service({ RETRY_BASE_MS: '60000', RETRY_MAX_DELAY_MS: '60000', RETRY_MAX_TOTAL_MS: '120000' });
    svc.sim.configure({ faults: [{ type: 'status', status: 503, headers: { 'retry-after': '60' } }] });
    const started = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1, background: true });
    // The 503 has been answered: the run is now waiting (60 s) to retry.
    await waitFor(() => svc.sim.stats().failed === 1, { what: 'the first attempt failing' });
    const t0 = Date.now();
    const cancelled = await postJson(`${svc.url}/v1/runs/${started.body.id}/cancel`, {});
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(cancelled.body.status).toBe('cancelled');
    expect(svc.sim.stats().received).toBe(1);
  });
});

describe('circuit breaker', () => {
  /** Four failed runs: the breaker (volume 3, 50 %) opens on the third. */
  async function tripBreaker(svc: TestService): Promise<void> {
    svc.sim.configure({ faultRate: { probability: 1, status: 500 } });
    for (let i = 0; i < 4; i++) await postJson(`${svc.url}/v1/runs`, { input: `fail ${i}`, replicates: 1 });
  }

  it('opens after a burst of failures and fails fast without a request while open', async () => {
    // Open for longer than any stall of a loaded machine: everything below happens while it is open, however slow the run.
    const svc = await service({ BREAKER_VOLUME: '3', BREAKER_ERROR_PERCENT: '50', BREAKER_RESET_MS: '600000', RETRY_MAX_ATTEMPTS: '1' });
    await tripBreaker(svc);
    const before = svc.sim.stats().received;
    const fast = await postJson(`${svc.url}/v1/runs`, { input: 'fail fast', replicates: 1 });
    expect(fast.body.status).toBe('failed');
    expect(fast.body.bundle.replicates[0].error.code).toBe('circuit_open');
    expect(fast.body.error.code).toBe('circuit_open');
    expect(svc.sim.stats().received).toBe(before);

    const ready = await getJson(`${svc.url}/readyz`);
    // /readyz is unauthenticated: it counts breakers, it does not name them (the key holds a caller's model name).
    expect(ready.body.checks.breakers).toEqual({ open: 1, half_open: 0 });
    const metrics = await getJson(`${svc.url}/metrics`);
    expect(metrics.body).toMatch(/orchestrator_circuit_state\{breaker="simulator:gpt-4o-mini"\} 2/);
  });

  it('lets a trial call through after the reset timeout and closes when it succeeds', async () => {
    const svc = await service({ BREAKER_VOLUME: '3', BREAKER_ERROR_PERCENT: '50', BREAKER_RESET_MS: '400', RETRY_MAX_ATTEMPTS: '1' });
    await tripBreaker(svc);
    // It opened (its transition is logged); how long ago is the machine's business, so nothing here races the 400 ms.
    await waitFor(() => svc.logs.some((l) => JSON.parse(l).msg === 'circuit open'), { what: 'the breaker opening' });
    svc.sim.configure({ faultRate: { probability: 0, status: 500 } });
    // After BREAKER_RESET_MS the breaker lets a trial call through (half-open).
    await waitFor(async () => (await getJson(`${svc.url}/readyz`)).body.checks.breakers.open === 0, { what: 'the breaker leaving open' });
    const before = svc.sim.stats().received;
    const healed = await postJson(`${svc.url}/v1/runs`, { input: 'healthy again', replicates: 1 });
    expect(healed.body.status).toBe('succeeded');
    expect(svc.sim.stats().received).toBe(before + 1);
    expect((await getJson(`${svc.url}/readyz`)).body.checks.breakers).toEqual({ open: 0, half_open: 0 });
  });

  it('is not tripped by 400s caused by our request', async () => {
    const svc = await service({ BREAKER_VOLUME: '2', BREAKER_ERROR_PERCENT: '10', RETRY_MAX_ATTEMPTS: '1' });
    svc.sim.configure({ faults: Array.from({ length: 5 }, () => ({ type: 'status' as const, status: 400 })) });
    for (let i = 0; i < 5; i++) await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1 });
    const ok = await postJson(`${svc.url}/v1/runs`, { input: 'fine', replicates: 1 });
    expect(ok.body.status).toBe('succeeded');
  });
});
