import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTransport } from '../../src/providers/transport.ts';
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
