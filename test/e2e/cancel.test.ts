import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';
import { waitFor } from '../helpers/waitFor.ts';


describe('cancellation and timeouts reach the provider', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());
  beforeEach(() => svc.sim.reset());

  it('POST /cancel ends a running run as cancelled and aborts its HTTP requests', async () => {
    svc.sim.configure({ faults: [{ type: 'hang' }, { type: 'hang' }, { type: 'hang' }] });
    const started = await postJson(`${svc.url}/v1/runs`, { input: 'hang', replicates: 3, background: true });
    await waitFor(() => svc.sim.stats().inFlight === 3);
    const t0 = Date.now();
    const cancelled = await postJson(`${svc.url}/v1/runs/${started.body.id}/cancel`, {});
    // Generous: the calls hang until aborted, so a cancel that did not abort them would never answer.
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.error.code).toBe('cancelled');
    expect(cancelled.body.bundle.statistics.cancelled).toBe(3);
    await svc.sim.waitForIdle();
    expect(svc.sim.stats().aborted).toBe(3);
    expect(svc.sim.requests.every((r) => r.outcome === 'aborted')).toBe(true);
    const record = await getJson(`${svc.url}/v1/runs/${started.body.id}`);
    expect(record.body.status).toBe('cancelled');
  });

  it('accepts a bodiless cancel even with a JSON content type', async () => {
    svc.sim.configure({ faults: [{ type: 'hang' }] });
    const started = await postJson(`${svc.url}/v1/runs`, { input: 'hang', replicates: 1, background: true });
    const res = await fetch(`${svc.url}/v1/runs/${started.body.id}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe("cancelled");
  });

  it('cancelling a finished run changes nothing', async () => {
    const done = await postJson(`${svc.url}/v1/runs`, { input: 'quick', replicates: 1 });
    const again = await postJson(`${svc.url}/v1/runs/${done.body.id}/cancel`, {});
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('succeeded');
  });

  it('timeout_ms ends the run as timed_out promptly and aborts in-flight requests', async () => {
    svc.sim.configure({ faults: [{ type: 'hang' }, { type: 'hang' }] });
    const t0 = Date.now();
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'too slow', replicates: 2, timeout_ms: 300 });
    const elapsed = Date.now() - t0;
    expect(body.status).toBe('timed_out');
    expect(body.error.code).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    // Generous: the calls hang until aborted, so without the timeout the run would never end.
    expect(elapsed).toBeLessThan(10_000);
    await svc.sim.waitForIdle();
    expect(svc.sim.stats().aborted).toBe(2);
  });

  it('keeps the replicates that finished before the timeout in the partial bundle', async () => {
    svc.sim.configure({ faults: [{ type: 'ok' }, { type: 'hang' }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'half done', replicates: 2, timeout_ms: 400, launch: { policy: 'waves', wave_size: 1 } });
    expect(body.status).toBe('timed_out');
    expect(body.bundle.statistics.succeeded).toBe(1);
    expect(body.bundle.statistics.cancelled).toBe(1);
    expect(body.output).not.toBeNull();
  });
});
