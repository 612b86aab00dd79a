import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startTestService, type TestService, withService } from '../helpers/service.ts';

describe('bad requests get the contract envelope, never a 500', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());

  const expectEnvelope = (body: any, code: string) => {
    expect(body).toMatchObject({ error: { code, message: expect.any(String), retryable: expect.any(Boolean), request_id: expect.any(String) } });
  };

  it.each([
    ['wrong types', { input: 'x', replicates: 'three' }],
    ['missing input', { replicates: 2 }],
    ['empty input', { input: '' }],
    ['unknown field', { input: 'x', replicate: 3 }],
    ['zero replicates', { input: 'x', replicates: 0 }],
    ['bad message role', { input: [{ role: 'robot', content: 'hi' }] }],
    ['non-object body (array)', [1, 2, 3]],
    ['non-object body (string)', '"just a string"'],
    ['non-object body (null)', 'null'],
    ['broken JSON', '{"input": "x",'],
    ['too many replicates', { input: 'x', replicates: 100_000 }],
    ['quorum above replicates', { input: 'x', replicates: 2, early_stop: { quorum: 5 } }],
    ['output_schema that is not a schema', { input: 'x', agent: { output_schema: { type: 'no-such-type' } } }],
  ])('%s → 400 invalid_request', async (_name, body) => {
    const res = await postJson(`${svc.url}/v1/runs`, body);
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'invalid_request');
  });

  it('names the offending field', async () => {
    const res = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 'three' });
    expect(res.body.error.message).toContain('replicates');
  });

  it('says "required" for a missing required field, and names a wrong one\'s problem', async () => {
    const empty = await postJson(`${svc.url}/v1/runs`, {});
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toBe('invalid request body: input: required');
    const nested = await postJson(`${svc.url}/v1/runs`, { input: [{ role: 'user' }] });
    expect(nested.body.error.message).toContain('input.0.content: required');
    const wrong = await postJson(`${svc.url}/v1/runs`, { input: 42 });
    expect(wrong.body.error.message).not.toContain('required');
  });

  it('refuses a body of the wrong content type', async () => {
    const res = await fetch(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'input=x' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectEnvelope(await res.json(), 'invalid_request');
  });

  it('refuses an oversized body with 413 payload_too_large', async () => {
    await withService({ env: { BODY_LIMIT_BYTES: '2048' } }, async (small) => {
      const res = await postJson(`${small.url}/v1/runs`, { input: 'x'.repeat(5000) });
      expect(res.status).toBe(413);
      expectEnvelope(res.body, 'payload_too_large');
    });
  });

  it('unknown tool → 404 tool_not_found', async () => {
    const res = await postJson(`${svc.url}/v1/runs`, { tool: 'no_such_tool', input: 'x' });
    expect(res.status).toBe(404);
    expectEnvelope(res.body, 'tool_not_found');
  });

  it('unknown run → 404 not_found on every run route', async () => {
    for (const res of [
      await getJson(`${svc.url}/v1/runs/run_missing`),
      await getJson(`${svc.url}/v1/runs/run_missing/events`),
      await postJson(`${svc.url}/v1/runs/run_missing/cancel`, {}),
    ]) {
      expect(res.status).toBe(404);
      expectEnvelope(res.body, 'not_found');
    }
  });

  it('unknown route → 404 not_found in the envelope', async () => {
    const res = await getJson(`${svc.url}/v2/nothing`);
    expect(res.status).toBe(404);
    expectEnvelope(res.body, 'not_found');
  });

  it('a malformed Last-Event-ID is a 400, not a hang', async () => {
    const run = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1 });
    const res = await getJson(`${svc.url}/v1/runs/${run.body.id}/events`, { 'last-event-id': 'abc' });
    expect(res.status).toBe(400);
    expectEnvelope(res.body, 'invalid_request');
  });
});

describe('limits answer 503 unavailable instead of growing', () => {
  it('refuses runs beyond MAX_ACTIVE_RUNS + MAX_QUEUED_RUNS, and accepts again once they finish', async () => {
    await withService({ env: { MAX_ACTIVE_RUNS: '1', MAX_QUEUED_RUNS: '1' }, behavior: { latencyMs: 300 } }, async (svc) => {
      const first = await postJson(`${svc.url}/v1/runs`, { input: 'a', replicates: 1, background: true });
      const second = await postJson(`${svc.url}/v1/runs`, { input: 'b', replicates: 1, background: true });
      expect(first.status).toBe(202);
      expect(second.status).toBe(202);
      expect(second.body.status).toBe('queued');
      const third = await postJson(`${svc.url}/v1/runs`, { input: 'c', replicates: 1 });
      expect(third.status).toBe(503);
      expect(third.body.error).toMatchObject({ code: 'unavailable', retryable: true });
      expect(third.headers.get('retry-after')).toBe('1');
      await svc.orchestrator.drain(5000).catch(() => undefined);
    });
  });

  it('refuses streams beyond MAX_STREAMS', async () => {
    await withService({ env: { MAX_STREAMS: '1' }, behavior: { latencyMs: 400 } }, async (svc) => {
      const started = await postJson(`${svc.url}/v1/runs`, { input: 'a', replicates: 1, background: true });
      const abort = new AbortController();
      const open = await fetch(`${svc.url}/v1/runs/${started.body.id}/events`, { signal: abort.signal });
      expect(open.status).toBe(200);
      const refused = await getJson(`${svc.url}/v1/runs/${started.body.id}/events`);
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('unavailable');
      abort.abort();
    });
  });
});
