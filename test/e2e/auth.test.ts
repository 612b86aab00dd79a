import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { buildApp, routeTable } from '../../src/app.ts';
import { DefaultToolPlanner } from '../../src/planning/planner.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { gatewayFromConfig } from '../../src/providers/gateway.ts';
import { storeLimits } from '../../src/store/index.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { loadTools } from '../../src/toolkit/loader.ts';
import { rawRequest, type RawAnswer } from '../helpers/rawHttp.ts';
import { getJson, postJson, startTestService, withService, type TestService } from '../helpers/service.ts';
import { readSse } from '../helpers/sse.ts';

const KEY_A1 = 'alpha-key-one-0123456789';
const KEY_A2 = 'alpha-key-two-0123456789';
const KEY_B = 'bravo-key-0123456789';
const A1 = { authorization: `Bearer ${KEY_A1}` };
const A2 = { authorization: `Bearer ${KEY_A2}` };
const B = { authorization: `Bearer ${KEY_B}` };

/** An error answer in the contract's envelope, its request id the header's. */
function expectEnvelope(res: RawAnswer, what: string) {
  expect(res.json?.error, `${what}: envelope (${res.text.slice(0, 120)})`).toMatchObject({
    code: expect.any(String),
    message: expect.any(String),
    retryable: expect.any(Boolean),
    request_id: expect.any(String),
  });
  expect(res.json.error.request_id, what).toBe(res.headers['x-request-id']);
}

/** A concrete path for a route pattern (`:id` → a run id, `:name` → a tool name). */
function concrete(url: string): string {
  return url.replace(/:id\b/g, 'run_0123456789abcdef0123456789abcdef').replace(/:name\b/g, 'bundle').replace(/:(\w+)/g, 'x');
}

/**
 * Ways of writing a path that a router might, or might not, take for the same
 * route: percent-encoding, slashes, case, dot segments, `;` parameters.
 */
function spellings(path: string): string[] {
  const rest = path.slice('/v1'.length);
  const encodeAll = (s: string) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
  return [
    path,
    `/%761${rest}`,
    `/%56${'1'}${rest}`,
    `/v%31${rest}`,
    `/${encodeAll('v1')}${rest}`,
    `/%2576${'1'}${rest}`,
    `/v1${rest.replace(/\//g, '%2F')}`,
    `/v1${rest.replace(/\//g, '%2f')}`,
    `%2Fv1${rest}`,
    `//v1${rest}`,
    `/v1/${rest}`,
    `/v1${rest.replace(/\//g, '//')}`,
    `/V1${rest}`,
    `/v1${rest.toUpperCase()}`,
    `${path}/`,
    `${path}//`,
    `${path};`,
    `${path};jsessionid=1`,
    `/v1;x${rest}`,
    `/v1/..${path}`,
    `/x/..${path}`,
    `/./v1${rest}`,
    `/v1/.${rest}`,
    `/v1/%2e%2e${path}`,
    `/v1/%2E%2E/v1${rest}`,
    `/v1\\${rest.slice(1)}`,
    `${path}?x=1`,
    `${path}#frag`,
    `${path}%00`,
    `${path}%20`,
    `http://evil.example${path}`,
  ];
}

describe('authentication belongs to the /v1 routes, not to a URL prefix', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { API_KEYS: `${KEY_A1}:alpha,${KEY_A2}:alpha,${KEY_B}`, LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => svc?.close());

  it('lists every /v1 route in the route table, all inside the protected scope', () => {
    const v1 = routeTable(svc.app).filter((r) => r.url.startsWith('/v1'));
    const names = v1.map((r) => `${r.method} ${r.url}`);
    expect(names).toEqual(expect.arrayContaining(['POST /v1/runs', 'GET /v1/runs/:id', 'GET /v1/runs/:id/events', 'POST /v1/runs/:id/cancel', 'GET /v1/tools', 'GET /v1/tools/:name', 'HEAD /v1/tools']));
    expect(v1.filter((r) => !r.protected)).toEqual([]);
    // Health stays outside: open to probes and load balancers.
    expect(routeTable(svc.app).find((r) => r.url === '/healthz')?.protected).toBe(false);
  });

  it('refuses every /v1 route without a key, or with a wrong one: 401 unauthorized in the envelope', async () => {
    const v1 = routeTable(svc.app).filter((r) => r.url.startsWith('/v1'));
    expect(v1.length).toBeGreaterThanOrEqual(7);
    for (const route of v1) {
      const path = concrete(route.url);
      const body = route.method === 'POST' ? '{"input":"x","replicates":1,"background":true}' : undefined;
      const headers = body ? { 'content-type': 'application/json' } : ({} as Record<string, string>);
      for (const auth of [{} as Record<string, string>, { authorization: 'Bearer not-a-key' }, { authorization: KEY_A1 }, { authorization: `Basic ${KEY_A1}` }]) {
        const res = await rawRequest(svc.url, path, { method: route.method, headers: { ...headers, ...auth }, ...(body ? { body } : {}) });
        const what = `${route.method} ${path} ${JSON.stringify(auth)}`;
        expect(res.status, what).toBe(401);
        expect(res.headers['www-authenticate'], what).toBe('Bearer');
        if (route.method !== 'HEAD') {
          expectEnvelope(res, what);
          expect(res.json.error.code).toBe('unauthorized');
        }
      }
    }
  });

  it('gets past auth with no spelling of a /v1 path: each answers 401, 404 or 400, in the envelope, and starts nothing', async () => {
    const v1 = routeTable(svc.app).filter((r) => r.url.startsWith('/v1'));
    const seen = new Map<number, number>();
    for (const route of v1) {
      for (const spelled of spellings(concrete(route.url))) {
        const body = route.method === 'POST' ? '{"input":"x","replicates":1,"background":true}' : undefined;
        const what = `${route.method} ${spelled}`;
        let res: RawAnswer;
        try {
          res = await rawRequest(svc.url, spelled, {
            method: route.method,
            headers: body ? { 'content-type': 'application/json' } : {},
            ...(body ? { body } : {}),
          });
        } catch (error) {
          // Node refuses a request line it cannot parse before knowing the method, so its 400 carries a body even for HEAD.
          expect(route.method, `${what}: ${(error as Error).message}`).toBe('HEAD');
          continue;
        }
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect([400, 401, 404], `${what} → ${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
        if (route.method !== 'HEAD') expectEnvelope(res, what);
      }
      // The bypass of the old prefix check: %76 is "v", the router decodes it and reaches the route.
      const bypass = await rawRequest(svc.url, `/%761${concrete(route.url).slice(3)}`, { method: route.method });
      expect(bypass.status, `${route.method} /%761…`).toBe(401);
    }
    // Spellings that reach a route (trailing slash, %76…) were refused, and none started a run.
    expect(seen.get(401)).toBeGreaterThan(v1.length);
    expect((svc.store as MemoryStore).size.runs).toBe(0);
    expect(svc.sim.stats().received).toBe(0);
  });

  it('refuses to start an app with a /v1 route registered outside the protected scope', async () => {
    const logger = pino({ level: 'silent' });
    const gateway = gatewayFromConfig(svc.config, { provider: 'simulator', apiKey: 'sk-x', baseURL: svc.sim.url, logger });
    const store = new MemoryStore(storeLimits(svc.config));
    const { app } = await buildApp(svc.config, {
      store,
      gateway,
      registry: await loadTools(svc.config.TOOLS_DIR),
      planner: new DefaultToolPlanner('bundle'),
      logger,
      metrics: new Metrics(),
      redact: (value) => value,
    });
    // A debugging route added at the root, beside the protected scope instead of in it.
    app.get('/v1/debug', async () => ({ secrets: true }));
    await expect(app.ready()).rejects.toThrow(/outside the authenticated scope: GET \/v1\/debug/);
    await gateway.close();
    await store.close();
  });
});

describe('tenants: several keys per tenant, others see nothing', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { API_KEYS: `${KEY_A1}:alpha, ${KEY_A2}:alpha ,${KEY_B}`, LOG_LEVEL: 'warn' }, behavior: { latencyMs: 200 } });
  });
  afterAll(async () => svc?.close());

  it('two keys of one tenant see the same runs; tenant B gets 404 on its record, events and cancel', async () => {
    const started = await postJson(`${svc.url}/v1/runs`, { input: 'rotation', replicates: 2, background: true }, A1);
    expect(started.status).toBe(202);
    const id = started.body.id as string;

    for (const path of [`/v1/runs/${id}`, `/v1/runs/${id}/events`]) {
      const foreign = await getJson(`${svc.url}${path}`, B);
      expect(foreign.status, path).toBe(404);
      expect(foreign.body.error.code).toBe('not_found');
    }
    const foreignCancel = await postJson(`${svc.url}/v1/runs/${id}/cancel`, '', B);
    expect(foreignCancel.status).toBe(404);
    // Not cancelled by B's attempt: the other key of tenant alpha follows it to the end.
    const events = await readSse(await fetch(`${svc.url}/v1/runs/${id}/events`, { headers: A2 }));
    expect(events.status).toBe(200);
    expect(events.frames.at(-1)?.data.result.status).toBe('succeeded');
    const viaA2 = await getJson(`${svc.url}/v1/runs/${id}`, A2);
    expect(viaA2.status).toBe(200);
    expect(viaA2.body.status).toBe('succeeded');
  });

  it('the rotated key can cancel the tenant run, and shares its Idempotency-Keys', async () => {
    const started = await postJson(`${svc.url}/v1/runs`, { input: 'cancel me', replicates: 2, background: true }, A2);
    const cancelled = await postJson(`${svc.url}/v1/runs/${started.body.id}/cancel`, '', A1);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');

    const body = { input: 'idempotent across keys', replicates: 1 };
    const first = await postJson(`${svc.url}/v1/runs`, body, { ...A1, 'idempotency-key': 'same-key' });
    const again = await postJson(`${svc.url}/v1/runs`, body, { ...A2, 'idempotency-key': 'same-key' });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    // Tenant B's same key is its own.
    const other = await postJson(`${svc.url}/v1/runs`, body, { ...B, 'idempotency-key': 'same-key' });
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('run ids carry a fixed-length tag derived from the tenant, not the key', async () => {
    const a1 = await postJson(`${svc.url}/v1/runs`, { input: 'tag', replicates: 1, background: true }, A1);
    const a2 = await postJson(`${svc.url}/v1/runs`, { input: 'tag', replicates: 1, background: true }, A2);
    const b = await postJson(`${svc.url}/v1/runs`, { input: 'tag', replicates: 1, background: true }, B);
    const tag = (id: string) => /^run_([0-9a-f]{24})_[0-9a-f]{32}$/.exec(id)?.[1];
    expect(tag(a1.body.id)).toBeDefined();
    expect(tag(a1.body.id)).toBe(tag(a2.body.id));
    expect(tag(b.body.id)).toBeDefined();
    expect(tag(b.body.id)).not.toBe(tag(a1.body.id));
    // Neither the key nor the tenant name appears in the id.
    expect(a1.body.id).not.toContain('alpha');
  });
});

describe('API_KEYS_FILE: keys as SHA-256 hashes, outside the environment', () => {
  it('accepts the key whose hash is listed, as the tenant the line names (same tenant as an API_KEYS entry)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const file = join(dir, 'keys.txt');
    const hash = (k: string) => createHash('sha256').update(k).digest('hex');
    writeFileSync(file, `# keys of the service\n\n${hash('file-key-charlie-01')}:charlie\n${hash('file-key-untenanted-02').toUpperCase()}\n`);
    await withService({ env: { API_KEYS_FILE: file, API_KEYS: 'env-key-charlie-03:charlie', LOG_LEVEL: 'warn' } }, async (svc) => {
      const viaFile = { authorization: 'Bearer file-key-charlie-01' };
      const viaEnv = { authorization: 'Bearer env-key-charlie-03' };
      const started = await postJson(`${svc.url}/v1/runs`, { input: 'from the file', replicates: 1 }, viaFile);
      expect(started.status).toBe(200);
      expect((await getJson(`${svc.url}/v1/runs/${started.body.id}`, viaEnv)).status).toBe(200);
      const lone = { authorization: 'Bearer file-key-untenanted-02' };
      expect((await getJson(`${svc.url}/v1/tools`, lone)).status).toBe(200);
      expect((await getJson(`${svc.url}/v1/runs/${started.body.id}`, lone)).status).toBe(404);
      // The hash itself is not a key.
      expect((await getJson(`${svc.url}/v1/tools`, { authorization: `Bearer ${hash('file-key-charlie-01')}` })).status).toBe(401);
    });
  });
});

describe('without keys', () => {
  it('runs open, and says so loudly at startup', async () => {
    await withService({ env: { LOG_LEVEL: 'info' } }, async (svc) => {
      const warning = svc.logs.map((l) => JSON.parse(l)).find((l) => /NO API KEYS/.test(l.msg));
      expect(warning?.level).toBe(40);
      expect((await getJson(`${svc.url}/v1/tools`)).status).toBe(200);
    });
  });
});
