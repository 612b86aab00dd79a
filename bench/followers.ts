/**
 * What idle followers of one run cost: N SSE streams (`GET /v1/runs/{id}/events`)
 * on one long run whose record carries a large `metadata`, with STORE=redis.
 * Reports the service process's CPU (from /proc, over a window while every
 * stream is open and the run waits on its provider) and the bytes Redis sent
 * (INFO `total_net_output_bytes` of a private redis-server, so nothing else
 * counts). `--server` picks the entry point, so two checkouts compare:
 *
 *   node bench/followers.ts [--followers=600] [--seconds=15] [--metadata-kb=900] [--server=src/server.ts]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { startSimulator } from '../src/providers/simulator/index.ts';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const FOLLOWERS = Number(args.get('followers') ?? 600);
const SECONDS = Number(args.get('seconds') ?? 15);
const METADATA_KB = Number(args.get('metadata-kb') ?? 900);
const SERVER = args.get('server') ?? 'src/server.ts';
const CLK_TCK = 100;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

const redisPort = await freePort();
const redisServer = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
await new Promise<void>((resolve) => redisServer.stdout.on('data', (d: Buffer) => String(d).includes('Ready to accept') && resolve()));
const redis = new Redis(`redis://127.0.0.1:${redisPort}`);
const sim = await startSimulator({ behavior: { latencyMs: 600_000 } });

const service = spawn(process.execPath, [SERVER], {
  env: {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    STORE: 'redis',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    OPENAI_BASE_URL: sim.url,
    OPENAI_API_KEY: 'sk-bench-0123456789',
    MAX_STREAMS: String(FOLLOWERS + 10),
    BODY_LIMIT_BYTES: String(METADATA_KB * 1024 + 65_536),
    DEFAULT_TIMEOUT_MS: '600000',
  },
});
const url = await new Promise<string>((resolve) => {
  let buffer = '';
  service.stdout.on('data', (d: Buffer) => {
    buffer += String(d);
    const match = /"msg":"service listening"[^\n]*"url":"([^"]+)"|"url":"([^"]+)"[^\n]*"msg":"service listening"/.exec(buffer);
    if (match) resolve((match[1] ?? match[2]) as string);
  });
});

try {
  const created = await fetch(`${url}/v1/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'bundle', input: 'follow me', replicates: 1, background: true, metadata: { blob: 'x'.repeat(METADATA_KB * 1024) } }),
  });
  const { id } = (await created.json()) as { id: string };
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: http.ClientRequest[] = [];
  let opened = 0;
  await new Promise<void>((resolve, reject) => {
    for (let i = 0; i < FOLLOWERS; i++) {
      const req = http.get(`${url}/v1/runs/${id}/events`, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`stream ${i}: ${res.statusCode}`));
        let first = true;
        res.on('data', () => {
          if (first && ++opened === FOLLOWERS) resolve();
          first = false;
        });
      });
      req.on('error', () => {});
      requests.push(req);
    }
  });
  // Let the open burst settle before measuring the steady state.
  await new Promise((r) => setTimeout(r, 2000));
  const statsOf = async () => Number(/total_net_output_bytes:(\d+)/.exec(await redis.info('stats'))?.[1] ?? 0);
  const cpu0 = cpuSeconds(service.pid as number);
  const out0 = await statsOf();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = (cpuSeconds(service.pid as number) - cpu0) / elapsed;
  const bytes = ((await statsOf()) - out0) / elapsed;
  process.stdout.write(
    `${JSON.stringify({ server: SERVER, followers: FOLLOWERS, metadata_kb: METADATA_KB, seconds: +elapsed.toFixed(1), service_cpu_percent_of_core: +(cpu * 100).toFixed(1), redis_out_mb_per_s: +(bytes / 1e6).toFixed(3) }, null, 2)}\n`,
  );
  for (const req of requests) req.destroy();
} finally {
  service.kill('SIGKILL');
  await sim.close();
  redis.disconnect();
  redisServer.kill('SIGKILL');
}
