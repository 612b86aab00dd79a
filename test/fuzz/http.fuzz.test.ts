/**
 * Fuzzing the HTTP edge: generated methods, path spellings, query strings,
 * headers and bodies on every route of the route table, with a valid key, a
 * wrong one or none, against the real server over HTTP. Every answer must be
 * below 500, every error in the contract's envelope (its request_id the
 * `x-request-id` header), and the server healthy afterwards.
 *
 * Runs: FUZZ_RUNS (default 1, a multiplier of the per-property counts below;
 * FUZZ_RUNS=10 for a long local session). A failure prints the fast-check
 * seed and the shrunk request; replay with FUZZ_SEED=<seed>.
 */
import { Agent } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTable, type RouteEntry } from '../../src/app.ts';
import { bodyOf, rawRequest, rawSocket, type RawAnswer } from '../helpers/rawHttp.ts';
import { getJson, startTestService, type TestService } from '../helpers/service.ts';

const KEY = 'fuzz-key-0123456789abcdef';
const SCALE = Math.max(1, Number(process.env.FUZZ_RUNS ?? 1));
const SEED = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) };
/** A request that takes longer than this is a hang (runs use the simulator with no latency). */
const REQUEST_TIMEOUT_MS = 15_000;

/** What a request looked like, for the failure message. */
interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** How often each status was answered (the fuzzer must reach handlers, not only the router). */
const statuses = new Map<number, number>();

/** Checks one answer against the edge's promises. */
function check(request: FuzzRequest, res: RawAnswer): void {
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  const what = `${request.method} ${request.path} ${JSON.stringify(request.headers)} ${request.body?.slice(0, 200) ?? ''} → ${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, what).toBeGreaterThanOrEqual(200);
  expect(res.status, what).toBeLessThan(500);
  expect(res.headers['x-request-id'], what).toBeTruthy();
  if (res.status >= 400 && request.method !== 'HEAD') {
    // The MCP transport answers protocol errors as JSON-RPC error objects, which MCP clients parse (e.g. to negotiate the version).
    if (request.path.startsWith('/mcp') && res.json?.jsonrpc === '2.0') {
      expect(res.json.error, what).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
      return;
    }
    expect(res.json?.error, what).toMatchObject({ code: expect.any(String), message: expect.any(String), retryable: expect.any(Boolean) });
    expect(res.json.error.request_id, what).toBe(res.headers['x-request-id']);
  }
}

// ---------------------------------------------------------------- arbitraries

const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 }).map((s) => s.trim());
const percentNoise = fc.constantFrom('%', '%2', '%G1', '%ff', '%00', '%2e%2e', '%2F', '%5C', '%25', '%76', '%C0%AF', '%E0%A4%A', '%F0%9F%92%A9');
const unicode = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => encodeURIComponent(s));

/** A value for a path parameter. */
const paramValue = fc.oneof(
  fc.constantFrom('run_0123456789abcdef0123456789abcdef', 'bundle', 'run_', '', '.', '..', 'x'.repeat(129), 'x'.repeat(300)),
  printable.map((s) => s.replace(/[/?#]/g, '')),
  unicode,
  fc.tuple(printable, percentNoise).map(([a, b]) => `${a.replace(/[/?#]/g, '')}${b}`),
);

/** A spelling of a route's path: the canonical one, or one a router might read differently. */
function pathFor(route: RouteEntry) {
  return fc
    .record({
      params: fc.array(paramValue, { minLength: 4, maxLength: 4 }),
      mutation: fc.constantFrom('none', 'none', 'none', 'encodeV', 'slash2F', 'doubleSlash', 'upper', 'trailing', 'semicolon', 'dotdot', 'dot', 'backslash', 'noise'),
      noise: percentNoise,
    })
    .map(({ params, mutation, noise }) => {
      let i = 0;
      const path = route.url.replace(/:\w+/g, () => params[i++ % params.length] as string);
      const rest = path.slice(3);
      switch (mutation) {
        case 'encodeV':
          return `/%76${path.slice(2)}`;
        case 'slash2F':
          return `/v1${rest.replace(/\//g, '%2F')}`;
        case 'doubleSlash':
          return path.replace(/\//g, '//');
        case 'upper':
          return path.toUpperCase();
        case 'trailing':
          return `${path}/`;
        case 'semicolon':
          return `${path};x=1`;
        case 'dotdot':
          return `/v1/x/..${rest}`;
        case 'dot':
          return `/./v1/.${rest}`;
        case 'backslash':
          return path.replace(/\//g, '\\').replace(/^\\/, '/');
        case 'noise':
          return `${path}${noise}`;
        default:
          return path;
      }
    });
}

const queryString = fc.oneof(
  fc.constant(''),
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom('after', 'tag', 'version', 'stream_token', 'status', 'limit'), printable), fc.oneof(printable, unicode, percentNoise, fc.integer().map(String))), { maxLength: 4 })
    .map((pairs) => `?${pairs.map(([k, v]) => `${k.replace(/[#&=]/g, '')}=${v.replace(/[#&]/g, '')}`).join('&')}`),
  fc.constantFrom('?', '?&&', '?a', '?after=-1', '?after=1e309', '?after=99999999999999999999', '?__proto__[x]=1', '?constructor.prototype.x=1', '?after[]=1&after[]=2'),
);

/** Headers a client may send (bodies' content types are chosen with the body). */
const headers = fc.record(
  {
    accept: fc.constantFrom('application/json', 'text/event-stream', '*/*', 'text/html', 'text/event-stream;q=0', ''),
    'idempotency-key': fc.oneof(headerValue, fc.constant('k'.repeat(300))),
    'last-event-id': fc.oneof(headerValue, fc.constantFrom('0', '1', '-1', '1e3', '999999999999999999')),
    'x-request-id': fc.oneof(headerValue, fc.constant('r'.repeat(200))),
    traceparent: fc.oneof(headerValue, fc.constant('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), fc.constant('ff-00000000000000000000000000000000-0000000000000000-00')),
    'accept-version': headerValue,
    'x-forwarded-for': headerValue,
    [`x-${'fuzz'}`]: headerValue,
  },
  { requiredKeys: [] },
);

/** The Authorization header: the valid key, a wrong one, a malformed one, or none. */
const auth = fc.oneof(
  fc.constant<Record<string, string>>({ authorization: `Bearer ${KEY}` }),
  fc.constant<Record<string, string>>({ authorization: `Bearer ${KEY}` }),
  fc.constant<Record<string, string>>({}),
  headerValue.map((v) => ({ authorization: `Bearer ${v}` })),
  headerValue.map((v) => ({ authorization: v })),
);

/** A valid run request: it reaches the orchestrator and runs on the simulator. */
const validRun = fc.record(
  {
    input: fc.oneof(fc.string({ maxLength: 50 }).map((s) => `q ${s}`), fc.constant([{ role: 'user', content: 'hi' }])),
    replicates: fc.integer({ min: 1, max: 3 }),
    stream: fc.boolean(),
    background: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1000 }),
    launch: fc.constant({ policy: 'waves', wave_size: 1 }),
    metadata: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    tags: fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 3 }),
  },
  { requiredKeys: ['input'] },
);

/** A body roughly shaped like a run request, each field valid or not. */
const fuzzedRun = fc.record(
  {
    input: fc.oneof(fc.string({ maxLength: 50 }), fc.jsonValue({ maxDepth: 3 }), fc.constant([{ role: 'user', content: 'hi' }])),
    replicates: fc.oneof(fc.integer({ min: -2, max: 4 }), fc.jsonValue({ maxDepth: 1 })),
    tool: fc.oneof(fc.constantFrom('bundle', 'nope', ''), fc.string({ maxLength: 20 })),
    tool_version: fc.oneof(fc.constantFrom('*', '^1', '>=0.0.0', 'not-a-range'), fc.string({ maxLength: 20 })),
    agent: fc.record({ model: fc.oneof(fc.constantFrom('gpt-4o-mini', ''), fc.string({ maxLength: 20 })), temperature: fc.jsonValue({ maxDepth: 1 }), output_schema: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }),
    seed: fc.oneof(fc.integer(), fc.jsonValue({ maxDepth: 1 })),
    timeout_ms: fc.oneof(fc.integer({ min: -1, max: 5000 }), fc.constant(2 ** 40)),
    budget: fc.jsonValue({ maxDepth: 2 }),
    early_stop: fc.jsonValue({ maxDepth: 2 }),
    launch: fc.oneof(fc.constant({ policy: 'waves', wave_size: 1 }), fc.jsonValue({ maxDepth: 2 })),
    options: fc.jsonValue({ maxDepth: 3 }),
    stream: fc.boolean(),
    background: fc.boolean(),
    metadata: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer())),
    tags: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

/** Run requests, valid or not. */
const runLike = fc.oneof({ weight: 1, arbitrary: validRun }, { weight: 2, arbitrary: fuzzedRun });

/** A body and the content type it is sent with. */
const body = fc.oneof(
  { weight: 4, arbitrary: runLike.map((b) => ({ type: 'application/json', text: JSON.stringify(b) })) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ({ type: 'application/json', text: JSON.stringify(v) })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((t) => ({ type: 'application/json', text: t })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/JSON', 'application/json\t', ''), fc.string({ maxLength: 100 }))
      .map(([type, text]) => ({ type, text })),
  },
  { weight: 1, arbitrary: fc.constantFrom({ type: 'application/json', text: '{"__proto__": {"polluted": 1}, "input": "x"}' }, { type: 'application/json', text: '{"constructor": {"prototype": {"x": 1}}, "input": "x"}' }, { type: 'application/json', text: '' }, { type: 'application/json', text: '\u0000' }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

// ---------------------------------------------------------------- the fuzzing

describe('fuzzing the HTTP edge (real server, real HTTP)', () => {
  let svc: TestService;
  let routes: RouteEntry[];
  // Keep-alive, so thousands of requests do not exhaust ephemeral ports.
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  beforeAll(async () => {
    svc = await startTestService({
      env: {
        API_KEYS: `${KEY}:fuzzer`,
        LOG_LEVEL: 'silent',
        MAX_REPLICATES: '3',
        RATE_LIMIT_MAX: '0',
        SIMULATOR_LATENCY_MS: '0',
        DEFAULT_TIMEOUT_MS: '5000',
        MAX_TIMEOUT_MS: '5000',
      },
      behavior: { latencyMs: 0 },
    });
    routes = [...routeTable(svc.app)];
  });
  afterAll(async () => {
    agent.destroy();
    await svc?.close();
  });

  async function send(request: FuzzRequest): Promise<void> {
    const res = await rawRequest(svc.url, request.path, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
      timeoutMs: REQUEST_TIMEOUT_MS,
      agent,
    }).catch((error: Error) => {
      // Node answers a request line it cannot parse before it knows the method; its body then confuses a HEAD client.
      if (request.method === 'HEAD' && /Parse Error/.test(error.message)) return null;
      throw new Error(`${request.method} ${request.path}: ${error.message}`);
    });
    if (res) check(request, res);
  }

  it('any request on any route: never a 5xx, always the envelope on errors', async () => {
    const request = fc.integer({ min: 0, max: routes.length - 1 }).chain((i) => {
      const route = routes[i] as RouteEntry;
      return fc.record({
        method: fc.oneof({ weight: 5, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
        path: pathFor(route),
        query: queryString,
        headers,
        auth,
        body: route.method === 'POST' ? body : fc.oneof(fc.constant(undefined), body),
      });
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const hdrs: Record<string, string> = { ...r.headers, ...r.auth };
        if (r.body && r.body.type !== '') hdrs['content-type'] = r.body.type;
        await send({ method: r.method, path: `${r.path}${r.query}`, headers: hdrs, ...(r.body ? { body: r.body.text } : {}) });
      }),
      { numRuns: 2000 * SCALE, ...SEED },
    );
  }, 120_000);

  it('run requests shaped like the schema, with the key: never a 5xx, errors in the envelope', async () => {
    await fc.assert(
      fc.asyncProperty(runLike, headers, async (b, h) => {
        await send({ method: 'POST', path: '/v1/runs', headers: { ...h, 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify(b) });
      }),
      { numRuns: 800 * SCALE, ...SEED },
    );
  }, 120_000);

  it('raw bytes on the socket: an envelope or a closed connection, never a 5xx', async () => {
    const line = fc.record({
      method: fc.oneof(fc.constantFrom(...METHODS, 'GET ', 'BREW', 'G\u0000T'), printable),
      target: fc.oneof(fc.constantFrom('/v1/runs', '/healthz', '*', '', 'http://x/v1/runs', '/v1/runs\u0000'), printable),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'http/1.1', ''),
      headerLines: fc.array(fc.oneof(headerValue.map((v) => `X-A: ${v}`), fc.constantFrom('Content-Length: -1', 'Content-Length: 1\r\nContent-Length: 2', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', ' folded', 'NoColon', 'Host:', ': empty-name')), { maxLength: 3 }),
      tail: fc.oneof(fc.constant(''), fc.string({ maxLength: 40 })),
    });
    await fc.assert(
      fc.asyncProperty(line, async (l) => {
        const text = `${l.method} ${l.target} ${l.version}\r\nHost: x\r\nConnection: close\r\n${l.headerLines.map((h) => `${h}\r\n`).join('')}\r\n${l.tail}`;
        const capture = await rawSocket(svc.url, (socket) => {
          socket.write(text);
          // Half-close: a server waiting for more body bytes sees the end of the request.
          socket.end();
        });
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(capture.text)?.[1];
        if (status === undefined) return; // closed without an answer: allowed for garbage
        const what = `${JSON.stringify(text)} → ${capture.text.slice(0, 300)}`;
        expect(Number(status), what).toBeLessThan(500);
        if (Number(status) >= 400 && l.method !== 'HEAD') expect(bodyOf(capture.text)?.error?.request_id, what).toMatch(/\S/);
      }),
      { numRuns: 400 * SCALE, ...SEED },
    );
  }, 120_000);

  it('reached the handlers: runs ran, and refusals came from auth, routing and validation alike', () => {
    for (const status of [200, 202, 400, 401, 404]) expect(statuses.get(status) ?? 0, `answers with status ${status}: ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
  });

  it('leaves the server healthy', async () => {
    const started = performance.now();
    expect((await getJson(`${svc.url}/healthz`)).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
    const ready = await getJson(`${svc.url}/readyz`);
    expect(ready.status).toBe(200);
    const tools = await getJson(`${svc.url}/v1/tools`, { authorization: `Bearer ${KEY}` });
    expect(tools.status).toBe(200);
  });
});
