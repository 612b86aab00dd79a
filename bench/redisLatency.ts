/**
 * One-replicate run latency and runs/s, memory store vs Redis (runs on
 * BullMQ), same run, same simulator (in-process, no latency). Sync
 * (`POST /v1/runs`, answer = final record) and streamed (`stream: true`,
 * time to the end of the SSE response). The service runs in this process
 * (`startService`, what `src/server.ts` calls), so figures include the
 * client's cost: compare the two stores, not absolute values.
 *
 *   node bench/redisLatency.ts [--runs=200] [--concurrency=16] [--seconds=3] [--root=DIR]
 *
 * `--root` runs another checkout's service (e.g. before this change) with the same driver.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteKeys, REDIS_URL } from '../test/helpers/redis.ts';
import { pino } from 'pino';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const RUNS = Number(args.get('runs') ?? 200);
const CONCURRENCY = Number(args.get('concurrency') ?? 16);
const SECONDS = Number(args.get('seconds') ?? 3);
const ROOT = path.resolve(args.get('root') ?? path.join(import.meta.dirname, '..'));
const { loadConfig } = (await import(pathToFileURL(path.join(ROOT, 'src/config.ts')).href)) as typeof import('../src/config.ts');
const { startService } = (await import(pathToFileURL(path.join(ROOT, 'src/server.ts')).href)) as typeof import('../src/server.ts');
const body = JSON.stringify({ tool: 'bundle', input: 'latency?', replicates: 1 });
const streamBody = JSON.stringify({ tool: 'bundle', input: 'latency?', replicates: 1, stream: true });

async function once(url: string, stream: boolean): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream ? streamBody : body });
  await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return performance.now() - started;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function measure(store: 'memory' | 'redis', prefix: string) {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', STORE: store, REDIS_URL, REDIS_PREFIX: prefix });
  const service = await startService(config, pino({ level: 'silent' }));
  try {
    for (let i = 0; i < 20; i++) await once(service.url, false); // warm-up
    const result: Record<string, unknown> = { store };
    for (const stream of [false, true]) {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) times.push(await once(service.url, stream));
      times.sort((a, b) => a - b);
      result[stream ? 'stream' : 'sync'] = { p50_ms: +percentile(times, 50).toFixed(2), p99_ms: +percentile(times, 99).toFixed(2) };
    }
    let done = 0;
    const until = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until) {
          await once(service.url, false);
          done++;
        }
      }),
    );
    result.runs_per_s = Math.round(done / SECONDS);
    return result;
  } finally {
    await service.close();
  }
}

const prefix = `bench:latency:${randomBytes(4).toString('hex')}:`;
const results = [await measure('memory', prefix), await measure('redis', prefix)];
const redis = new Redis(REDIS_URL);
await deleteKeys(redis, prefix);
redis.disconnect();
process.stdout.write(`${JSON.stringify({ root: ROOT, runs: RUNS, concurrency: CONCURRENCY, seconds: SECONDS, results }, null, 2)}\n`);
