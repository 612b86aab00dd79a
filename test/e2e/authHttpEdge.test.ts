import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyOf, rawRequest, rawSocket, type RawAnswer } from '../helpers/rawHttp.ts';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';
import { readSse } from '../helpers/sse.ts';

/** The contract's envelope, with the header's request id. */
function expectEnvelope(res: RawAnswer, code: string) {
  expect(res.json?.error, res.text.slice(0, 200)).toMatchObject({ code, message: expect.any(String), retryable: expect.any(Boolean) });
  expect(res.headers['x-request-id']).toMatch(/^req_/);
  expect(res.json.error.request_id).toBe(res.headers['x-request-id']);
}

// Small bounds so the slow-client tests take well under a second each.
const REQUEST_TIMEOUT_MS = 700;
const HEADERS_TIMEOUT_MS = 400;
const KEEP_ALIVE_MS = 300;

describe('every refusal at the HTTP edge is in the envelope, with x-request-id', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => svc?.close());

  it('404 for an unknown URL, the echoed path truncated', async () => {
    const res = await rawRequest(svc.url, `/nowhere/${'x'.repeat(5000)}`);
    expect(res.status).toBe(404);
    expectEnvelope(res, 'not_found');
    expect(res.json.error.message.length).toBeLessThan(300);
    expect(res.json.error.message).toContain('(5009 characters)');
  });

  it('414 uri_too_long for a path parameter above HTTP_MAX_PARAM_LENGTH (a 200-character run id)', async () => {
    const res = await rawRequest(svc.url, `/v1/runs/run_${'a'.repeat(200)}`);
    expect(res.status).toBe(414);
    expectEnvelope(res, 'uri_too_long');
    expect(res.json.error.message.length).toBeLessThan(400);
    // The bound itself is fine: 128 characters reach the route.
    expect((await rawRequest(svc.url, `/v1/runs/run_${'a'.repeat(124)}`)).status).toBe(404);
  });

  it('431 header_too_large for headers above HTTP_MAX_HEADER_BYTES', async () => {
    const res = await rawRequest(svc.url, '/v1/tools', { headers: { 'x-padding': 'p'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expectEnvelope(res, 'header_too_large');
    const longUrl = await rawRequest(svc.url, `/v1/tools?tag=${'t'.repeat(20_000)}`);
    expect(longUrl.status).toBe(431);
  });

  it('400 invalid_request for bad percent-encoding and for malformed HTTP', async () => {
    for (const path of ['/v1/runs/%E0%A4%A', '/v1/runs/%zz', '/v1/tools/%C0%AF']) {
      const res = await rawRequest(svc.url, path);
      expect(res.status, path).toBe(400);
      expectEnvelope(res, 'invalid_request');
    }
    const garbage = await rawSocket(svc.url, (socket) => socket.write('GET /v1/tools HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'));
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400 /);
    const body = bodyOf(garbage.text);
    expect(body.error).toMatchObject({ code: 'invalid_request', request_id: expect.stringMatching(/^req_/) });
    expect(garbage.text).toContain(`x-request-id: ${body.error.request_id}`);
  });

  it('caps any error message, whatever echoed it', async () => {
    const res = await rawRequest(svc.url, '/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"input": "${'y'.repeat(100_000)}"` });
    expect(res.status).toBe(400);
    expect(res.json.error.message.length).toBeLessThanOrEqual(2100);
  });
});

describe('slow clients are cut off within the configured bounds', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({
      env: {
        LOG_LEVEL: 'warn',
        HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
      },
      behavior: { latencyMs: 500 },
    });
  });
  afterAll(async () => svc?.close());

  /** Writes `text` one byte per `everyMs` until the connection closes. */
  function trickle(text: string, everyMs: number) {
    return rawSocket(svc.url, (socket, closed) => {
      let i = 0;
      const timer = setInterval(() => {
        if (closed.aborted || i >= text.length) return clearInterval(timer);
        socket.write(text[i++] as string);
      }, everyMs);
      closed.addEventListener('abort', () => clearInterval(timer));
    });
  }

  it('a POST body trickled one byte at a time gets 408 request_timeout and a closed connection', async () => {
    const body = JSON.stringify({ input: 'slow'.repeat(100) });
    const headers = `POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const capture = await rawSocket(svc.url, (socket, closed) => {
      socket.write(headers);
      let i = 0;
      const timer = setInterval(() => (closed.aborted || i >= body.length ? clearInterval(timer) : socket.write(body[i++] as string)), 20);
    });
    expect(capture.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(bodyOf(capture.text).error).toMatchObject({ code: 'request_timeout', retryable: true, request_id: expect.stringMatching(/^req_/) });
    // The bound plus Node's checking interval, with room for a loaded machine: the defect is minutes.
    expect(capture.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3000);
    expect(svc.orchestrator.activeCount).toBe(0);
  });

  it('headers trickled one byte at a time are cut at the headers timeout', async () => {
    const capture = await trickle(`GET /v1/tools HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(200)}\r\n\r\n`, 20);
    expect(capture.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(capture.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 3000);
  });

  it('a connection that sends nothing is closed', async () => {
    const capture = await rawSocket(svc.url, () => {});
    expect(capture.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3000);
  });

  it('an idle keep-alive connection is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    let answered = 0;
    const capture = await rawSocket(svc.url, (socket) => {
      socket.on('data', () => answered++);
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    expect(answered).toBeGreaterThan(0);
    expect(capture.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(capture.closedAfterMs).toBeLessThan(KEEP_ALIVE_MS + 3000);
  });

  it('does not cut a request whose body arrived in time, however long its run or stream takes', async () => {
    // The run takes longer than HTTP_REQUEST_TIMEOUT_MS (simulator latency 500 ms, two waves); the request was whole at once.
    const waited = await postJson(`${svc.url}/v1/runs`, { input: 'long wait', replicates: 2, launch: { policy: 'waves', wave_size: 1 } });
    expect(waited.status).toBe(200);
    expect(waited.body.status).toBe('succeeded');
    const stream = await readSse(
      await fetch(`${svc.url}/v1/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ input: 'long stream', replicates: 2, launch: { policy: 'waves', wave_size: 1 } }),
      }),
    );
    expect(stream.frames.at(-1)?.event).toBe('run_completed');
    expect((await getJson(`${svc.url}/healthz`)).status).toBe(200);
  });
});
