import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestService, type TestService, withService } from '../helpers/service.ts';
import { openSse } from '../helpers/sse.ts';

describe('trace and request ids end to end', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

  it('returns the incoming trace id and sends it, as a child span, with the request id to the provider', async () => {
    svc.sim.reset();
    const { body, headers } = await postJson(`${svc.url}/v1/runs`, { input: 'traced', replicates: 2 }, { traceparent, 'x-request-id': 'req-trace-1' });
    expect(body.trace_id).toBe(traceId);
    expect(body.request_id).toBe('req-trace-1');
    expect(headers.get('x-request-id')).toBe('req-trace-1');
    expect(svc.sim.requests).toHaveLength(2);
    for (const r of svc.sim.requests) {
      const tp = String(r.headers.traceparent);
      expect(tp).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      expect(tp).not.toBe(traceparent);
      expect(r.headers['x-request-id']).toBe('req-trace-1');
    }
  });

  it('puts the ids on every event and every run log line', async () => {
    const cap = await openSse(`${svc.url}/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent, 'x-request-id': 'req-trace-2' },
      body: JSON.stringify({ input: 'traced stream', replicates: 1, stream: true }),
    });
    for (const f of cap.frames) expect(f.data).toMatchObject({ trace_id: traceId, request_id: 'req-trace-2' });
    const runId = cap.frames[0]!.data.run_id;
    const lines = svc.logs.map((l) => JSON.parse(l)).filter((l) => l.run_id === runId);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatchObject({ trace_id: traceId, request_id: 'req-trace-2' });
  });

  it('ignores a malformed traceparent and starts a new trace', async () => {
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1 }, { traceparent: '00-zzzz-not-a-trace' });
    expect(status).toBe(200);
    expect(body.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(body.trace_id).not.toBe(traceId);
  });

  it('never writes the API key or a bearer token to the logs', async () => {
    const secret = 'sk-test-secret-key-0123456789';
    await withService({ env: { API_KEYS: 'bearer-secret-token-42', LOG_LEVEL: 'trace' }, apiKey: secret }, async (multi) => {
      multi.sim.configure({ faults: [{ type: 'status', status: 401, body: { error: { message: `Incorrect API key provided: ${secret}` } } }] });
      await postJson(`${multi.url}/v1/runs`, { input: `my key is ${secret}`, replicates: 1 }, { authorization: 'Bearer bearer-secret-token-42' });
      await postJson(`${multi.url}/v1/runs`, { input: 'no auth' }, { authorization: 'Bearer wrong-token-xyz-123' });
      const all = multi.logs.join('\n');
      expect(multi.logs.length).toBeGreaterThan(0);
      expect(all).not.toContain(secret);
      expect(all).not.toContain('bearer-secret-token-42');
    });
  });
});

describe('secrets echoed by a provider', () => {
  it('are masked in results as well as logs', async () => {
    await withService({}, async (svc) => {
      svc.sim.configure({ faults: [{ type: 'status', status: 401, body: { error: { message: 'Incorrect API key provided: sk-live-abcdefghijklmnop' } } }] });
      const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1 });
      expect(JSON.stringify(body)).not.toContain('sk-live-abcdefghijklmnop');
      expect(body.bundle.replicates[0].error.message).toContain('[REDACTED]');
      expect(svc.logs.some((l) => l.includes('replicate failed'))).toBe(true);
      expect(svc.logs.join('\n')).not.toContain('sk-live-abcdefghijklmnop');
    });
  });
});
