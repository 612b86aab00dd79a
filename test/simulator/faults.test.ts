import OpenAI, { type APIError, type RateLimitError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { clientFor, rootOf, until } from './helpers.ts';

let sim: Simulator;
let client: OpenAI;

beforeAll(async () => {
  sim = await startSimulator();
  client = clientFor(sim);
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const chat = (opts?: OpenAI.RequestOptions) =>
  client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, opts);

describe('scripted faults', () => {
  it('a 500 then ok: the SDK sees a server error, then a normal answer', async () => {
    sim.configure({ faults: [{ type: 'status', status: 500 }, { type: 'ok' }] });
    const err: unknown = await chat().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as APIError).error).toMatchObject({ type: 'server_error', code: 'simulated_fault' });
    expect((await chat()).choices[0]?.message.content).toBeTruthy();
    expect(sim.requests.map((r) => [r.outcome, r.status])).toEqual([['fault', 500], ['completed', 200]]);
    expect(sim.stats()).toMatchObject({ received: 2, failed: 1, completed: 1, inFlight: 0 });
  });

  it('the script is shared by both endpoints and consumed in order', async () => {
    sim.configure({ faults: [{ type: 'status', status: 503 }, { type: 'status', status: 400, body: { error: { message: 'nope', type: 'x', code: 'y' } } }] });
    await expect(client.responses.create({ model: 'm', input: 'hi' })).rejects.toMatchObject({ status: 503 });
    await expect(chat()).rejects.toMatchObject({ status: 400, message: expect.stringContaining('nope') });
    await expect(chat()).resolves.toBeTruthy();
  });

  it('a 429 carries its retry-after header to the SDK error', async () => {
    sim.configure({ faults: [{ type: 'status', status: 429, headers: { 'retry-after': '2' } }] });
    const err: unknown = await chat().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as RateLimitError).headers.get('retry-after')).toBe('2');
  });

  it('a hang ends only when the client aborts, and the abort is recorded', async () => {
    sim.configure({ faults: [{ type: 'hang' }] });
    const ac = new AbortController();
    const pending = chat({ signal: ac.signal });
    await until(() => sim.stats().inFlight === 1);
    expect(sim.requests[0]?.outcome).toBe('pending');
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await sim.waitForIdle();
    expect(sim.requests[0]).toMatchObject({ outcome: 'aborted', status: null });
    expect(sim.stats()).toMatchObject({ aborted: 1, inFlight: 0, failed: 0, completed: 0 });
    expect(sim.pendingTimers()).toBe(0);
  });

  it('an abort during latency clears the latency timer', async () => {
    sim.configure({ latencyMs: 60_000 });
    const ac = new AbortController();
    const pending = chat({ signal: ac.signal });
    await until(() => sim.stats().inFlight === 1);
    expect(sim.pendingTimers()).toBe(1);
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await sim.waitForIdle();
    expect(sim.stats().aborted).toBe(1);
    expect(sim.pendingTimers()).toBe(0);
  });

  it('a reset destroys the socket: the SDK reports a connection error', async () => {
    sim.configure({ faults: [{ type: 'reset' }] });
    await expect(chat()).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    expect(sim.requests[0]).toMatchObject({ outcome: 'fault', status: null });
    await expect(chat()).resolves.toBeTruthy();
  });

  it('malformed answers 200 with a body that is not valid JSON / SSE JSON', async () => {
    sim.configure({ faults: [{ type: 'malformed' }, { type: 'malformed' }] });
    const post = (body: object) =>
      fetch(`${sim.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const plain = await post({ model: 'm', messages: [] });
    expect(plain.status).toBe(200);
    await expect(plain.json()).rejects.toThrow(SyntaxError);
    const streamed = await post({ model: 'm', messages: [], stream: true });
    const frame = (await streamed.text()).replace(/^data: /, '');
    expect(() => JSON.parse(frame)).toThrow(SyntaxError);
    expect(sim.stats()).toMatchObject({ failed: 2, completed: 0 });
  });
});

describe('random faults, latency and streaming', () => {
  it('faultRate fails a seeded, reproducible share of requests after the script', async () => {
    sim.configure({ faults: [{ type: 'ok' }], faultRate: { probability: 0.5, status: 503 } });
    const run = async () => {
      const outcomes: number[] = [];
      for (let i = 0; i < 20; i++) outcomes.push(await chat().then(() => 200, (e: APIError) => e.status ?? 0));
      return outcomes;
    };
    const first = await run();
    expect(first[0]).toBe(200);
    expect(new Set(first)).toEqual(new Set([200, 503]));
    sim.reset();
    sim.configure({ faults: [{ type: 'ok' }], faultRate: { probability: 0.5, status: 503 } });
    expect(await run()).toEqual(first);
  });

  it('answers concurrent requests concurrently under latency', async () => {
    sim.configure({ latencyMs: 100 });
    const results = await Promise.all(Array.from({ length: 20 }, () => chat()));
    expect(results).toHaveLength(20);
    expect(sim.stats()).toMatchObject({ maxInFlight: 20, completed: 20, inFlight: 0 });
  });

  it('latency ranges are accepted and answered', async () => {
    sim.configure({ latencyMs: { min: 1, max: 5 } });
    await expect(chat()).resolves.toBeTruthy();
  });

  it('closing a stream mid-way with chunk delays records an abort after the 200', async () => {
    sim.configure({ streamChunkDelayMs: 50 });
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      break;
    }
    await sim.waitForIdle();
    expect(sim.requests[0]).toMatchObject({ outcome: 'aborted', status: 200 });
    expect(sim.pendingTimers()).toBe(0);
  });

  it('a function answer that throws becomes a 500 fault', async () => {
    sim.configure({ answers: { kind: 'function', fn: () => { throw new Error('boom'); } } });
    await expect(chat()).rejects.toMatchObject({ status: 500, message: expect.stringContaining('boom') });
    expect(sim.stats().failed).toBe(1);
  });

  it('close() ends hanging requests and resolves', async () => {
    const other = await startSimulator({ behavior: { faults: [{ type: 'hang' }] } });
    const pending = fetch(`${other.url}/chat/completions`, { method: 'POST', body: '{"model":"m","messages":[]}' }).catch((e: unknown) => e);
    await until(() => other.stats().inFlight === 1);
    await other.close();
    expect(await pending).toBeInstanceOf(TypeError);
    expect(other.stats()).toMatchObject({ aborted: 1, inFlight: 0 });
    await expect(fetch(`${rootOf(other)}/_simulator/stats`)).rejects.toThrow();
  });
});
