import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseLatencyEnv, runSimulatorMain } from '../../src/providers/simulator/main.ts';
import { SimulatorConfigError, startSimulator, type RecordedRequest, type Simulator, type SimulatorStats } from '../../src/providers/simulator/index.ts';
import { clientFor, rootOf } from './helpers.ts';

let sim: Simulator;
let client: OpenAI;
let root: string;

beforeAll(async () => {
  sim = await startSimulator({ behavior: { latencyMs: 1 } });
  client = clientFor(sim);
  root = rootOf(sim);
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const postJson = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const ask = async (content: string) =>
  (await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] })).choices[0]?.message.content;

describe('HTTP control endpoints', () => {
  it('configure, inspect stats and recordings, and reset from another process', async () => {
    const res = await postJson(`${root}/_simulator/config`, { answers: { kind: 'fixed', value: 'from http' }, faults: [{ type: 'status', status: 502 }] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { behavior: { answers: unknown } }).behavior.answers).toEqual({ kind: 'fixed', value: 'from http' });
    await expect(ask('q')).rejects.toMatchObject({ status: 502 });
    expect(await ask('q')).toBe('from http');

    const stats = (await (await fetch(`${root}/_simulator/stats`)).json()) as SimulatorStats;
    expect(stats).toEqual({ received: 2, completed: 1, aborted: 0, inFlight: 0, maxInFlight: 1, failed: 1 });
    const recs = (await (await fetch(`${root}/_simulator/requests`)).json()) as RecordedRequest[];
    expect(recs.map((r) => [r.outcome, r.status])).toEqual([['fault', 502], ['completed', 200]]);
    expect(recs[1]?.body).toMatchObject({ model: 'm', messages: [{ role: 'user', content: 'q' }] });

    expect((await fetch(`${root}/_simulator/reset`, { method: 'POST' })).status).toBe(200);
    expect(sim.stats().received).toBe(0);
    expect(sim.requests).toEqual([]);
    expect(await ask('q')).not.toBe('from http');
  });

  it('reset returns to the startup behavior', async () => {
    sim.configure({ latencyMs: 500 });
    sim.reset();
    const { behavior } = (await (await fetch(`${root}/_simulator/config`)).json()) as { behavior: { latencyMs: unknown } };
    expect(behavior.latencyMs).toBe(1);
  });

  it.each([
    [{ latencyMs: -5 }, 'latencyMs'],
    [{ latencyMs: { min: 10, max: 1 } }, 'must not exceed'],
    [{ answers: { kind: 'dice' } }, 'answers'],
    [{ answers: { kind: 'function', fn: 'x => 1' } }, 'only possible in-process'],
    [{ answers: { kind: 'distribution', values: [{ value: 1, weight: 0 }] } }, 'weight'],
    [{ faults: [{ type: 'status', status: 42 }] }, 'faults'],
    [{ faultRate: { probability: 2, status: 500 } }, 'probability'],
    [{ latencyMS: 5 }, 'latencyMS'],
    ['[1, 2]', 'expected object'],
  ])('rejects nonsense config %j with a clear 400', async (body, hint) => {
    const res = await postJson(`${root}/_simulator/config`, body);
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { message: string; code: string } }).error;
    expect(err.code).toBe('invalid_simulator_config');
    expect(err.message).toContain(hint);
  });

  it('configure() in-process throws SimulatorConfigError and keeps the previous behavior', async () => {
    sim.configure({ answers: { kind: 'fixed', value: 'kept' } });
    expect(() => sim.configure({ streamChunkDelayMs: Number.NaN })).toThrow(SimulatorConfigError);
    expect(await ask('q')).toBe('kept');
  });

  it('unknown routes get a 404 and bad JSON a 400, both in OpenAI error format', async () => {
    await expect(client.moderations.create({ model: 'm', input: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const notFound = await fetch(`${root}/v2/nothing`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'unknown_url' } });

    const bad = await postJson(`${sim.url}/chat/completions`, '{"model":');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const notObject = await postJson(`${sim.url}/responses`, '[]');
    expect(notObject.status).toBe(400);
    expect(sim.stats().received).toBe(0);
  });
});

describe('recording', () => {
  it('keeps only the newest maxRecorded requests, oldest first', async () => {
    const small = await startSimulator({ maxRecorded: 3 });
    try {
      const c = clientFor(small);
      for (let i = 0; i < 5; i++) await c.chat.completions.create({ model: `m${i}`, messages: [{ role: 'user', content: 'x' }] });
      expect(small.requests.map((r) => r.model)).toEqual(['m2', 'm3', 'm4']);
      expect(small.stats().received).toBe(5);
    } finally {
      await small.close();
    }
  });
});

describe('standalone entry', () => {
  it('starts from env, logs one JSON line with the URL, and shuts down', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb(); } });
    const { simulator, shutdown } = await runSimulatorMain(
      { SIMULATOR_HOST: '127.0.0.1', SIMULATOR_PORT: '0', SIMULATOR_LATENCY_MS: '2-4' },
      pino({ name: 'simulator' }, sink),
    );
    try {
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] ?? '')).toMatchObject({ url: simulator.url, msg: 'simulator listening' });
      const r = await clientFor(simulator).responses.create({ model: 'm', input: 'hi' });
      expect(r.status).toBe('completed');
    } finally {
      await shutdown();
    }
    await expect(fetch(`${rootOf(simulator)}/_simulator/stats`)).rejects.toThrow();
  });

  it('parses SIMULATOR_LATENCY_MS and rejects a bad port', async () => {
    expect(parseLatencyEnv(undefined)).toBeUndefined();
    expect(parseLatencyEnv('25')).toBe(25);
    expect(parseLatencyEnv('10-20')).toEqual({ min: 10, max: 20 });
    expect(() => parseLatencyEnv('soon')).toThrow(/SIMULATOR_LATENCY_MS/);
    await expect(runSimulatorMain({ SIMULATOR_PORT: 'http' }, pino({ enabled: false }))).rejects.toThrow(/SIMULATOR_PORT/);
  });
});
