import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AnswerHeaders, createTransport } from '../../src/providers/transport.ts';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { until } from '../simulator/helpers.ts';

describe('undici transport under the openai SDK', () => {
  let sim: Simulator;
  let headers: Record<string, string> | undefined;
  const transport = createTransport(() => headers);
  const client = () => new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0, fetch: transport.fetch });

  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(async () => {
    await transport.close();
    await sim.close();
  });
  beforeEach(() => {
    sim.reset();
    headers = undefined;
  });

  it('makes chat calls whose requests carry the SDK headers and the per-call extra headers', async () => {
    headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-request-id': 'req_transport' };
    const res = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], seed: 7 });
    expect(res.choices[0]?.message.content).toEqual(expect.any(String));
    expect(res.usage?.total_tokens).toBeGreaterThan(0);
    const seen = sim.requests.at(-1)!;
    expect(seen.headers.traceparent).toBe(headers.traceparent);
    expect(seen.headers['x-request-id']).toBe('req_transport');
    expect(seen.headers.authorization).toBe('[redacted]'); // present (the simulator masks its value)
    expect(seen.body).toMatchObject({ seed: 7 });
  });

  it('streams responses chunk by chunk', async () => {
    const stream = await client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'tell me more' }], stream: true });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(chunks).toBeGreaterThan(1);
    expect(text.length).toBeGreaterThan(0);
  });

  it('maps HTTP errors to the SDK error classes with status and headers', async () => {
    sim.configure({ faults: [{ type: 'status', status: 429, headers: { 'retry-after': '2' } }] });
    const error = await client()
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('2');
  });

  it('aborts the request on the wire when the signal fires', async () => {
    sim.configure({ latencyMs: 5000 });
    const abort = new AbortController();
    const pending = client().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'slow' }] }, { signal: abort.signal });
    await until(() => sim.stats().inFlight === 1);
    abort.abort();
    await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await until(() => sim.stats().aborted === 1);
  });
});

describe('undici transport on plain HTTP', () => {
  let server: http.Server;
  let base: string;
  const transport = createTransport();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/empty') {
        res.writeHead(204, { 'x-kind': 'empty' }).end();
      } else if (req.url === '/short') {
        // Declares more than it sends, then hangs up: the answer is cut off mid-body.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"partial":');
        setImmediate(() => res.socket?.destroy());
      } else if (req.url === '/json') {
        const text = JSON.stringify({ answer: 'Paris — café' });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-request-id': 'req_1' }).end(text);
      } else if (req.url === '/moved') {
        res.writeHead(307, { location: '/cookies' }).end();
      } else if (req.url === '/cookies') {
        res.writeHead(200, [['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['content-type', 'application/json']]);
        res.end(JSON.stringify({ method: req.method }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await transport.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fails a JSON answer cut off before its declared length instead of handing over part of it', async () => {
    const outcome = await transport.fetch(`${base}/short`).then(
      (res) => res.text(),
      (e: unknown) => e,
    );
    expect(outcome).toBeInstanceOf(Error);
  });

  it('hands over a whole JSON answer that reads like a fetch Response: once, as text, JSON, bytes or a stream', async () => {
    const res = await transport.fetch(`${base}/json`);
    expect(res).toBeInstanceOf(Response);
    expect([res.status, res.ok, res.headers.get('x-request-id'), res.bodyUsed]).toEqual([200, true, 'req_1', false]);
    const copy = res.clone();
    expect(await res.json()).toEqual({ answer: 'Paris — café' });
    expect(res.bodyUsed).toBe(true);
    await expect(res.text()).rejects.toThrow(TypeError);
    // The copy has its own body: as a stream of the same UTF-8 bytes.
    const chunks: Uint8Array[] = [];
    for await (const chunk of copy.body as ReadableStream<Uint8Array>) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(JSON.stringify({ answer: 'Paris — café' }));
    expect(copy.bodyUsed).toBe(true);
    const again = await transport.fetch(`${base}/json`);
    expect(new TextDecoder().decode(await again.arrayBuffer())).toContain('café');
  });

  it('refuses a request on a closed transport instead of leaving it pending', async () => {
    const closed = createTransport();
    await closed.close();
    await expect(closed.fetch(`${base}/json`)).rejects.toThrow();
  });

  it('answers bodiless statuses with a null body', async () => {
    const res = await transport.fetch(`${base}/empty`);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expect(res.headers.get('x-kind')).toBe('empty');
  });

  it('follows redirects and keeps repeated headers', async () => {
    const res = await transport.fetch(`${base}/moved`, { method: 'GET' });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ method: 'GET' });
  });
});

describe('undici transport bounds', () => {
  let origin: http.Server;
  let other: http.Server;
  let base: string;
  let otherBase: string;
  /** What the other host saw: it must see nothing. */
  const otherHits: string[] = [];
  /** Bytes the origin managed to write of its endless answer before the connection closed. */
  let streamed = { bytes: 0, closed: false };
  const transport = createTransport(undefined, { maxResponseBytes: 64 * 1024 });
  const listen = async (server: http.Server) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  beforeAll(async () => {
    other = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        otherHits.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}');
      });
    });
    otherBase = await listen(other);
    origin = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        if (req.url === '/away') res.writeHead(307, { location: `${otherBase}/v1/chat/completions` }).end();
        else if (req.url === '/here') res.writeHead(307, { location: '/echo' }).end();
        else if (req.url === '/echo') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body }));
        else if (req.url === '/huge') {
          // 50 MB, written as fast as the client takes it.
          streamed = { bytes: 0, closed: false };
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(64 * 1024, 'a');
          const pump = () => {
            while (streamed.bytes < 50 * 1024 * 1024 && !res.destroyed) {
              streamed.bytes += chunk.length;
              if (!res.write(chunk)) return void res.once('drain', pump);
            }
            res.end();
          };
          res.on('close', () => (streamed.closed = true));
          pump();
        } else res.writeHead(404).end();
      });
    });
    base = await listen(origin);
  });
  afterAll(async () => {
    await transport.close();
    await Promise.all([new Promise((r) => origin.close(r)), new Promise((r) => other.close(r))]);
  });

  it('does not follow a redirect to another host: the prompt never reaches it', async () => {
    const res = await transport.fetch(`${base}/away`, { method: 'POST', body: '{"prompt":"secret plan"}', headers: { authorization: 'Bearer sk-x' } });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toContain(otherBase);
    expect(otherHits).toEqual([]);
  });

  it('follows a same-origin 307 and re-posts the body there', async () => {
    const res = await transport.fetch(`${base}/here`, { method: 'POST', body: 'hello' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ method: 'POST', body: 'hello' });
  });

  it('fails a 50 MB answer once it passes the byte bound, without reading it whole', async () => {
    const res = await transport.fetch(`${base}/huge`);
    const error = await res.text().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'provider_error', details: { limit: 'MAX_OUTPUT_BYTES' } });
    await until(() => streamed.closed);
    expect(streamed.bytes).toBeLessThan(20 * 1024 * 1024);
  });

  it('refuses an oversized answer through the openai SDK as a provider_error naming the limit', async () => {
    const sim = await startSimulator({ behavior: { answers: { kind: 'fixed', value: 'x'.repeat(200 * 1024) } } });
    try {
      const client = new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0, fetch: transport.fetch });
      const error = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'long' }] }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'provider_error', retryable: false, details: { limit: 'MAX_OUTPUT_BYTES' } });
    } finally {
      await sim.close();
    }
  });
});

describe('the headers of a buffered answer', () => {
  /** undici's parsed form: lower-case names, a repeated header as an array. */
  const raw = {
    'x-request-id': 'req_1',
    'content-type': 'application/json',
    'set-cookie': ['a=1', 'b=2'],
    'x-multi': ['accept', 'origin'],
    'retry-after': '2',
    'content-length': '17',
  };
  type Listed = Headers & Iterable<[string, string]> & { keys(): Iterable<string>; values(): Iterable<string> };
  const fetched = (): Listed => {
    const h = new Headers();
    for (const [name, value] of Object.entries(raw)) for (const v of [value].flat()) h.append(name, v);
    return h as Listed;
  };

  it('read, iterate and copy as the headers of a fetch answer do', () => {
    const ours = new AnswerHeaders(raw) as unknown as Listed;
    const real = fetched();
    expect(ours).toBeInstanceOf(Headers);
    for (const name of ['X-Request-Id', 'content-type', 'Set-Cookie', 'X-Multi', 'missing', 'RETRY-AFTER']) {
      expect([name, ours.get(name), ours.has(name)]).toEqual([name, real.get(name), real.has(name)]);
    }
    expect(ours.getSetCookie()).toEqual(real.getSetCookie());
    expect([...ours]).toEqual([...real]);
    expect([...ours.keys()]).toEqual([...real.keys()]);
    expect([...ours.values()]).toEqual([...real.values()]);
    const seen: string[] = [];
    ours.forEach((value, name) => seen.push(`${name}=${value}`));
    const expected: string[] = [];
    real.forEach((value, name) => expected.push(`${name}=${value}`));
    expect(seen).toEqual(expected);
    // A copy (what an error object or a caller may make) holds every header.
    expect([...(new Headers(ours) as Listed)]).toEqual([...real]);
  });

  it('cannot be changed, as the headers of a fetch answer cannot', () => {
    const ours = new AnswerHeaders(raw);
    expect(() => ours.set('x-request-id', 'forged')).toThrow(TypeError);
    expect(() => ours.append('x-new', '1')).toThrow(TypeError);
    expect(() => ours.delete('content-type')).toThrow(TypeError);
    expect(ours.get('x-request-id')).toBe('req_1');
  });
});
