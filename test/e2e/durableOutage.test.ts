import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { getJson, postJson } from '../helpers/service.ts';
import { crash, freePort, openStream, PROCESS_TEST_TIMEOUT_MS, startReplica, type Replica } from '../helpers/replicaProcess.ts';

/** A request that needs the store must be answered within this while Redis is away (the acceptance bound). */
const OUTAGE_ANSWER_MS = 3000;

/** A private Redis this file may stop and kill; the one on 6379 is never touched. */
interface PrivateRedis {
  port: number;
  child: ChildProcessWithoutNullStreams;
}

async function startRedis(port: number): Promise<PrivateRedis> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${out}`)));
  });
  return { port, child };
}

let sim: Simulator;
let redis: PrivateRedis | null = null;
let replica: Replica | null = null;

beforeAll(async () => {
  sim = await startSimulator({ behavior: {} });
});

afterEach(async () => {
  if (replica) await crash(replica.child);
  replica = null;
  if (redis) {
    redis.child.kill('SIGCONT');
    await crash(redis.child);
  }
  redis = null;
  sim.reset();
});

afterAll(async () => {
  await sim.close();
});

async function serviceOnPrivateRedis(env: Record<string, string> = {}): Promise<Replica> {
  redis = await startRedis(await freePort());
  replica = await startReplica({
    STORE: 'redis',
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    REDIS_PREFIX: 'test:outage:',
    OPENAI_BASE_URL: sim.url,
    OPENAI_API_KEY: 'sk-test-outage-0123456789',
    SSE_HEARTBEAT_MS: '200',
    ...env,
  });
  return replica;
}

/** The 503 a client gets while Redis is away: the contract's envelope, retryable, with Retry-After, and soon. */
async function expectUnavailable(request: () => Promise<{ status: number; headers: Headers; body: any }>): Promise<void> {
  const started = Date.now();
  const answer = await request();
  expect(Date.now() - started).toBeLessThan(OUTAGE_ANSWER_MS);
  expect(answer.status).toBe(503);
  expect(answer.body.error).toMatchObject({ code: 'unavailable', retryable: true });
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
}

/** Polls the service (real HTTP, a few per second) until `check` accepts an answer. */
async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached in time; last: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('Redis outages (a private redis-server, stopped and killed)', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('answers 503 unavailable with Retry-After within 3 s while Redis is stalled or down, and serves again once it is back, without a restart', async () => {
    const svc = await serviceOnPrivateRedis();
    const first = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'before', replicates: 1 });
    expect(first.body.status).toBe('succeeded');
    const id = first.body.id as string;

    // Stalled: connections stay open, nothing answers.
    redis!.child.kill('SIGSTOP');
    await expectUnavailable(() => postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'stalled', replicates: 1 }));
    await expectUnavailable(() => getJson(`${svc.url}/v1/runs/${id}`));
    expect((await getJson(`${svc.url}/readyz`)).status).toBe(503);
    redis!.child.kill('SIGCONT');
    const afterStall = await eventually(
      () => postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'after stall', replicates: 1 }),
      (r) => r.status === 200,
    );
    expect(afterStall.body.status).toBe('succeeded');

    // Down: refused connections; then a new, empty Redis on the same port.
    const port = redis!.port;
    await crash(redis!.child);
    await expectUnavailable(() => postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'down', replicates: 1 }));
    await expectUnavailable(() => getJson(`${svc.url}/v1/runs/${id}`));
    redis = await startRedis(port);
    const afterRestart = await eventually(
      () => postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'after restart', replicates: 1 }),
      (r) => r.status === 200,
    );
    expect(afterRestart.body.status).toBe('succeeded');
    expect((await getJson(`${svc.url}/v1/runs/${afterRestart.body.id}`)).body.status).toBe('succeeded');
  });

  it('a run accepted before Redis stalled and was killed still gets its terminal record, and its live stream stays open and ends with run_completed', async () => {
    sim.configure({ latencyMs: 1500 });
    const svc = await serviceOnPrivateRedis();
    const stream = await openStream(`${svc.url}/v1/runs`, { body: { tool: 'bundle', input: 'outlive redis', replicates: 2 } });
    expect(stream.status).toBe(200);
    const started = await stream.waitFor((f) => f.event === 'run_started');
    const id = started.data.run_id as string;
    await eventually(async () => sim.stats().inFlight, (n) => n >= 2);

    redis!.child.kill('SIGSTOP');
    // The run finishes its provider calls while Redis is stalled…
    await sim.waitForIdle();
    const heartbeats = stream.comments;
    await eventually(async () => stream.comments, (n) => n > heartbeats);
    // …then Redis dies, still stalled, and comes back empty. Killed as it is (SIGKILL ends a stopped process): woken
    // first, it would take the held-up writes and lose them as it dies, which no client of a Redis could prevent.
    const port = redis!.port;
    await crash(redis!.child);
    redis = await startRedis(port);

    const completed = await stream.waitFor((f) => f.event === 'run_completed', 20_000);
    expect(completed.data.result).toMatchObject({ id, status: 'succeeded' });
    expect(await stream.closed).toEqual({ ended: true });
    const stored = await eventually(() => getJson(`${svc.url}/v1/runs/${id}`), (r) => r.status === 200);
    expect(stored.body.status).toBe('succeeded');
    expect(stored.body.bundle.replicates).toHaveLength(2);
  });
});
