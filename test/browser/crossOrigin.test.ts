/// <reference lib="dom" />
/// <reference lib="dom.asynciterable" />
// (The functions passed to page.evaluate run in the browser.)
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';
import { ARTIFACTS, launchChromium, openPage, skipBrowser, startPageServer } from './chromium.ts';

/*
 * A page on another, allowed origin uses the API as a browser app would:
 * fetch with a bearer key (preflighted), then EventSource with nothing but
 * the run's stream token. The server counts what reaches it.
 */

const KEY = 'browser-test-key-1';

describe.skipIf(skipBrowser)('a page on an allowed origin, in Chromium', () => {
  let svc: TestService;
  let pages: Awaited<ReturnType<typeof startPageServer>>;
  let browser: Browser;
  let page: Page;
  let seen: Awaited<ReturnType<typeof openPage>>['seen'];
  const hits: { method: string; path: string; query: string; lastEventId: string | undefined; origin: string | undefined }[] = [];

  beforeAll(async () => {
    pages = await startPageServer();
    svc = await startTestService({ env: { API_KEYS: KEY, CORS_ORIGINS: `${pages.origin},https://other.example`, SSE_RETRY_MS: '50' } });
    svc.app.server.on('request', (request) => {
      const url = new URL(request.url ?? '/', 'http://x');
      const lastEventId = request.headers['last-event-id'];
      hits.push({ method: request.method ?? '', path: url.pathname, query: url.search, lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined, origin: request.headers.origin });
    });
    browser = await launchChromium();
    ({ page, seen } = await openPage(browser));
    await page.goto(pages.origin);
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.close();
    await pages?.close();
  });

  it('POSTs with a bearer key after a preflight, follows the run with only its stream token to run_completed, and stops there', async () => {
    svc.sim.configure({ latencyMs: { min: 5, max: 60 } });
    const outcome = await page.evaluate(
      async ({ api, key }) => {
        const res = await fetch(`${api}/v1/runs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ input: 'Name a prime number.', replicates: 3, background: true, synthesize: true }),
        });
        const accepted = await res.json();
        const exposed = { requestId: res.headers.get('x-request-id'), location: res.headers.get('location') };
        // Everything the page sees, in order; the EventSource is left to do what it does after the end.
        const events: { type: string; id: string; seq: number }[] = [];
        const closed = await new Promise<number>((resolve) => {
          const source = new EventSource(`${api}/v1/runs/${accepted.id}/events?stream_token=${encodeURIComponent(accepted.stream_token)}`);
          const types = ['run_started', 'replicate_done', 'partial_summary', 'bundle_ready', 'synthesis_done', 'tool_started', 'tool_completed', 'run_completed'];
          for (const type of types) {
            source.addEventListener(type, (message) => {
              const data = JSON.parse((message as MessageEvent).data);
              events.push({ type, id: (message as MessageEvent).lastEventId, seq: data.seq });
            });
          }
          source.onmessage = (message) => events.push({ type: `unnamed:${message.data}`, id: message.lastEventId, seq: -1 });
          source.onerror = () => {
            // CLOSED means the browser gave up for good (the 204): it will not reconnect again.
            if (source.readyState === EventSource.CLOSED) resolve(source.readyState);
          };
        });
        return { status: res.status, accepted, exposed, events, closed };
      },
      { api: svc.url, key: KEY },
    );

    expect(outcome.status).toBe(202);
    expect(outcome.exposed.requestId).toMatch(/^req_/);
    expect(outcome.exposed.location).toBe(`/v1/runs/${outcome.accepted.id}`);
    expect(outcome.closed).toBe(2);

    const types = outcome.events.map((e) => e.type);
    expect(types[0]).toBe('run_started');
    expect(types.at(-1)).toBe('run_completed');
    expect(types.filter((t) => t === 'run_completed')).toHaveLength(1);
    expect(types.filter((t) => t === 'replicate_done')).toHaveLength(3);
    for (const t of ['partial_summary', 'bundle_ready', 'synthesis_done']) expect(types).toContain(t);
    expect(types.indexOf('bundle_ready')).toBeGreaterThan(types.lastIndexOf('replicate_done'));
    expect(outcome.events.map((e) => e.seq)).toEqual(outcome.events.map((_, i) => i + 1));
    expect(outcome.events.map((e) => e.id)).toEqual(outcome.events.map((e) => String(e.seq)));

    // At the server: one preflight, one POST, the stream, and exactly one reconnect after the end, answered 204.
    const mine = hits.filter((h) => h.origin === pages.origin);
    expect(mine.filter((h) => h.method === 'OPTIONS' && h.path === '/v1/runs')).toHaveLength(1);
    expect(mine.filter((h) => h.method === 'POST' && h.path === '/v1/runs')).toHaveLength(1);
    const streams = mine.filter((h) => h.path === `/v1/runs/${outcome.accepted.id}/events`);
    expect(streams).toHaveLength(2);
    expect(streams[0]?.lastEventId).toBeUndefined();
    expect(streams[1]?.lastEventId).toBe(String(outcome.events.length));
    const reconnect = await fetch(`${svc.url}${streams[1]?.path}${streams[1]?.query}`, { headers: { 'last-event-id': String(outcome.events.length) } });
    expect(reconnect.status).toBe(204);
    expect(seen.problems.filter((p) => !p.includes('/events'))).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'cross-origin.png') });
  });

  it('refuses the stream with a token for another run, a tampered token, or no token', async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    const a = await postJson(`${svc.url}/v1/runs`, { input: 'first', replicates: 1 }, auth);
    const b = await postJson(`${svc.url}/v1/runs`, { input: 'second', replicates: 1 }, auth);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const tokenA: string = a.body.stream_token;
    // A payload naming run b under a's signature: the mac no longer matches.
    const [payloadA, macA] = tokenA.split('.') as [string, string];
    const forged = Buffer.from(Buffer.from(payloadA, 'base64url').toString('utf8').replace(a.body.id, b.body.id)).toString('base64url');
    const cases = {
      otherRun: `${svc.url}/v1/runs/${b.body.id}/events?stream_token=${encodeURIComponent(tokenA)}`,
      tampered: `${svc.url}/v1/runs/${b.body.id}/events?stream_token=${encodeURIComponent(`${forged}.${macA}`)}`,
      none: `${svc.url}/v1/runs/${a.body.id}/events`,
      own: `${svc.url}/v1/runs/${a.body.id}/events?stream_token=${encodeURIComponent(tokenA)}`,
    };
    const results = await page.evaluate(async (urls) => {
      const one = (url: string) =>
        new Promise<{ messages: number; state: number }>((resolve) => {
          let messages = 0;
          const source = new EventSource(url);
          source.addEventListener('run_completed', () => {
            messages++;
            source.close();
            resolve({ messages, state: source.readyState });
          });
          source.onerror = () => {
            if (source.readyState === EventSource.CLOSED) resolve({ messages, state: source.readyState });
          };
        });
      const out: Record<string, { messages: number; state: number }> = {};
      for (const [name, url] of Object.entries(urls)) out[name] = await one(url);
      return out;
    }, cases);
    expect(results.otherRun).toEqual({ messages: 0, state: 2 });
    expect(results.tampered).toEqual({ messages: 0, state: 2 });
    expect(results.none).toEqual({ messages: 0, state: 2 });
    expect(results.own).toEqual({ messages: 1, state: 2 });

    for (const url of [cases.otherRun, cases.tampered, cases.none]) {
      const res = await fetch(url);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      // The refusal is readable by the page: CORS headers are on errors too.
      const fromPage = await fetch(url, { headers: { origin: pages.origin } });
      expect(fromPage.headers.get('access-control-allow-origin')).toBe(pages.origin);
    }
    // A stream token opens nothing else: not the run record, not the list.
    const record = await fetch(`${svc.url}/v1/runs/${a.body.id}?stream_token=${encodeURIComponent(tokenA)}`);
    expect(record.status).toBe(401);
    // And it never reaches the logs.
    expect(svc.logs.join('').includes(tokenA)).toBe(false);
  });

  it('answers no CORS headers to an origin that is not allowed', async () => {
    const res = await fetch(`${svc.url}/v1/runs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const allowed = await fetch(`${svc.url}/v1/runs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://other.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://other.example');
    expect(allowed.headers.get('access-control-max-age')).toBe('600');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('idempotency-key');
  });
});
