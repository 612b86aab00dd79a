/**
 * Child processes of the benchmarks: the simulator, the service (as `npm
 * start` runs it, the compiled `dist/src/server.js`, or in-process from the
 * sources in a worker with IPC), the bare proxy and
 * load-generating clients. Every child is tracked so the driver can stop
 * exactly the processes it started, by pid.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimulatorBehavior, SimulatorStats } from '../../src/providers/simulator/types.ts';
import { closeIdleConnections, request } from './load.ts';
import { sleep } from './stats.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
});

/** A started node child with its captured output. */
export interface NodeChild {
  proc: ChildProcess;
  pid: number;
  /** The last ~64 KB of stdout+stderr, for error reports. */
  output(): string;
  /** Resolves with the first stdout line the predicate accepts. */
  waitForLine(accept: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  args?: string[];
  env?: Record<string, string>;
  execArgv?: string[];
  ipc?: boolean;
  /** Keep stdout lines for waitForLine (default true). */
  lines?: boolean;
}

/** Spawns `script` (relative to the repo root) with this process's Node binary. */
export function spawnNode(script: string, options: SpawnOptions = {}): NodeChild {
  const proc = spawn(process.execPath, [...(options.execArgv ?? []), path.join(REPO_ROOT, script), ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not spawn ${script}`);
  live.add(proc);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-65536);
  };
  let pending = '';
  const lines: string[] = [];
  const lineWaiters = new Set<(line: string) => void>();
  proc.stdout?.on('data', (chunk: Buffer) => {
    keep(chunk);
    if (options.lines === false) return;
    pending += chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (lines.length < 1000) lines.push(line);
      for (const w of [...lineWaiters]) w(line);
    }
  });
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      live.delete(proc);
      resolve(code);
    });
  });
  const child: NodeChild = {
    proc,
    pid: proc.pid,
    output: () => tail,
    exited,
    waitForLine(accept, timeoutMs = 20_000) {
      const seen = lines.find(accept);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          lineWaiters.delete(onLine);
          reject(new Error(`${script}: no expected output line within ${timeoutMs} ms\n${tail}`));
        }, timeoutMs);
        const onLine = (line: string) => {
          if (!accept(line)) return;
          clearTimeout(timer);
          lineWaiters.delete(onLine);
          resolve(line);
        };
        lineWaiters.add(onLine);
        exited.then((code) => {
          if (!lineWaiters.has(onLine)) return;
          clearTimeout(timer);
          lineWaiters.delete(onLine);
          reject(new Error(`${script} exited (${code}) before it was ready\n${tail}`));
        });
      });
    },
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return child;
}

/** A free loopback TCP port (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `GET url` until it answers 200. */
export async function waitHttpOk(url: string, child: NodeChild, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`process exited (${child.proc.exitCode}) before ${url} answered\n${child.output()}`);
    try {
      if ((await request(url, { keepAlive: false })).status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms\n${child.output()}`);
    await sleep(50);
  }
}

// Control calls use one-off connections, so they leave no pooled socket behind in the service.
export async function postJson<T = unknown>(url: string, body: unknown): Promise<T> {
  const { status, text } = await request(url, { method: 'POST', body: JSON.stringify(body), keepAlive: false });
  if (status < 200 || status >= 300) throw new Error(`POST ${url} → ${status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : null) as T;
}

export async function getJson<T = unknown>(url: string): Promise<T> {
  const { status, text } = await request(url, { keepAlive: false });
  if (status < 200 || status >= 300) throw new Error(`GET ${url} → ${status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** The simulator in its own process. */
export interface SimulatorChild extends NodeChild {
  /** Base URL for the SDKs (`http://127.0.0.1:PORT/v1`). */
  url: string;
  origin: string;
  configure(behavior: Partial<SimulatorBehavior>): Promise<void>;
  reset(): Promise<void>;
  stats(): Promise<SimulatorStats>;
}

/** Starts `node src/providers/simulator/main.ts` on a free loopback port. */
export async function startSimulatorChild(latencyMs: number | string = 0): Promise<SimulatorChild> {
  const child = spawnNode('src/providers/simulator/main.ts', {
    env: { SIMULATOR_PORT: '0', SIMULATOR_HOST: '127.0.0.1', SIMULATOR_LATENCY_MS: String(latencyMs) },
  });
  const line = await child.waitForLine((l) => l.includes('"url"'));
  const url = (JSON.parse(line) as { url: string }).url;
  const origin = new URL(url).origin;
  await waitHttpOk(`${origin}/_simulator/stats`, child);
  return {
    ...child,
    url,
    origin,
    configure: async (behavior) => {
      await postJson(`${origin}/_simulator/config`, behavior);
    },
    reset: async () => {
      await postJson(`${origin}/_simulator/reset`, {});
    },
    stats: () => getJson<SimulatorStats>(`${origin}/_simulator/stats`),
  };
}

/** Environment every benchmarked service gets unless a scenario overrides it. */
export function serviceEnv(simulatorUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    OPENAI_BASE_URL: simulatorUrl,
    // Never a real key: the simulator needs none and the SDK insists on one.
    OPENAI_API_KEY: 'sk-bench-not-a-key',
    SHUTDOWN_GRACE_MS: '2000',
    // The brief's limit; the service's default may be lower.
    MAX_REPLICATES: '100',
    // Load generators send thousands of requests from one address; the limiter is not what is measured.
    RATE_LIMIT_MAX: '0',
    // …and thousands of runs of one tenant at once (1,000 concurrent runs, 1,000 SSE clients): the default cap of
    // 100 active runs per tenant would answer the rest 429 and measure refusals, not runs.
    MAX_RUNS_PER_TENANT: '1000000',
    ...extra,
  };
}

/** The service as in production: what `npm start` runs (the compiled `dist/src/server.js`), in its own process. */
export interface ServiceChild extends NodeChild {
  /** `http://127.0.0.1:PORT` */
  origin: string;
}

export async function startServiceChild(simulatorUrl: string, env: Record<string, string> = {}, execArgv: string[] = []): Promise<ServiceChild> {
  buildService();
  const port = await freePort();
  const child = spawnNode(SERVICE_ENTRY, { env: serviceEnv(simulatorUrl, { PORT: String(port), ...env }), execArgv: [...SERVICE_NODE_FLAGS, ...execArgv], lines: false });
  const origin = `http://127.0.0.1:${port}`;
  await waitHttpOk(`${origin}/healthz`, child);
  return { ...child, origin };
}

/** The words of `npm start` (package.json: `node <flags> <entry>`; the Dockerfile's CMD repeats them). */
const START_WORDS: readonly string[] = (() => {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.trim().split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
})();

/**
 * The Node flags the service ships with: those of `npm start`, so a
 * benchmarked service child runs as `npm start` runs it: today a 32 MiB
 * semi-space, the old generation grown to 1.5x what survives, and
 * `--expose-gc` for the collection at the end of start-up (why: the Node
 * flags paragraph of docs/architecture.md).
 */
// Flags are written `--name=value` in the start script, so the first word without a dash is the script.
export const SERVICE_NODE_FLAGS: readonly string[] = START_WORDS.filter((w) => w.startsWith('-'));

/** The script `npm start` runs, relative to the repo root: the compiled server (`dist/src/server.js`). */
export const SERVICE_ENTRY: string = (() => {
  const entry = START_WORDS.find((w) => !w.startsWith('-'));
  if (!entry) throw new Error('package.json: the start script names no script for node');
  return entry;
})();

let built = false;

/**
 * `npm run build` (what `npm start` runs first, as its prestart script), once
 * per bench process: the service children then run the JavaScript of the
 * sources as they are now, never a stale `dist/`.
 */
export function buildService(): void {
  if (built) return;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  built = true;
}

/**
 * Settling before a post-GC heap reading: pooled keep-alive sockets (undici
 * and node:http close idle ones after ~4–6 s) otherwise come and go between
 * readings and move heapUsed by megabytes. A settled reading waits at least
 * SETTLE_MIN_MS, then until the service process has no TCP connection left;
 * readings of an idle service then repeat within ~0.1 MB.
 */
export const SETTLE_MIN_MS = 2500;
export const SETTLE_MAX_MS = 15_000;

/**
 * V8 flags of the in-process service used for memory readings: without
 * bytecode flushing, functions idle for a few GCs keep their bytecode, so
 * forced GCs do not show up as heap shrinkage (noise, not app behaviour).
 */
export const MEMORY_EXEC_ARGV = ['--no-flush-bytecode'];

/** Answers of the in-process service worker (bench/workers/inprocService.ts). */
export interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Used bytes per V8 heap space (old_space, code_space, …), from v8.getHeapSpaceStatistics(). */
  spaces?: Record<string, number>;
}

export interface CpuSample {
  user: number;
  system: number;
}

/** The service started in-process (startService) inside a child with --expose-gc, driven over IPC. */
export interface InprocServiceChild extends NodeChild {
  origin: string;
  /** Full GC (several passes) in the service process, then its memory. */
  memory(gc?: boolean): Promise<MemorySample>;
  /** Waits until the service has no open connection left (idle keep-alive sockets closed), then {@link memory}. */
  settledMemory(): Promise<MemorySample>;
  cpu(): Promise<CpuSample>;
  /** Full GC, then a heap snapshot written to `file` (object ids persist across snapshots of the process). */
  snapshot(file: string): Promise<{ file: string; memory: MemorySample }>;
}

export async function startInprocService(simulatorUrl: string, env: Record<string, string> = {}, execArgv: string[] = []): Promise<InprocServiceChild> {
  const port = await freePort();
  const child = spawnNode('bench/workers/inprocService.ts', {
    env: serviceEnv(simulatorUrl, { PORT: String(port), ...env }),
    execArgv: ['--expose-gc', ...execArgv],
    ipc: true,
    lines: false,
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitHttpOk(`${origin}/healthz`, child);
  let nextId = 1;
  const waiting = new Map<number, (reply: any) => void>();
  child.proc.on('message', (msg: any) => {
    const resolve = waiting.get(msg?.id);
    if (resolve) {
      waiting.delete(msg.id);
      resolve(msg);
    }
  });
  const ask = (cmd: string, extra: Record<string, unknown> = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`in-process service: no answer to ${cmd}`));
      }, 60_000);
      waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      child.proc.send({ id, cmd, ...extra });
    });
  return {
    ...child,
    origin,
    memory: async (gc = true) => (await ask('memory', { gc })).memory as MemorySample,
    settledMemory: async () => {
      // The bench closes its own pooled connections, waits at least SETTLE_MIN_MS (TTL expiry and a
      // store sweep in the leak check), then until the service's provider sockets have closed too.
      const start = performance.now();
      closeIdleConnections();
      await sleep(SETTLE_MIN_MS);
      while (performance.now() - start < SETTLE_MAX_MS && ((await ask('sockets')).sockets as number) > 0) await sleep(250);
      // Then post-GC readings 500 ms apart until two agree within 64 KB: some memory (timer-driven
      // clean-ups, finalizers) is only released a little later.
      let last = (await ask('memory', { gc: true })).memory as MemorySample;
      for (let i = 0; i < 8 && performance.now() - start < SETTLE_MAX_MS; i++) {
        await sleep(500);
        const next = (await ask('memory', { gc: true })).memory as MemorySample;
        const stable = Math.abs(next.heapUsed - last.heapUsed) < 64 * 1024;
        last = next;
        if (stable) break;
      }
      return last;
    },
    cpu: async () => (await ask('cpu')).cpu as CpuSample,
    snapshot: async (file: string) => {
      const reply = await ask('snapshot', { file });
      return { file: reply.file as string, memory: reply.memory as MemorySample };
    },
  };
}

/** The bare node:http pass-through proxy (the floor of scenario 0). */
export interface ProxyChild extends NodeChild {
  /** Base URL for the SDKs (`http://127.0.0.1:PORT/v1`). */
  url: string;
}

export async function startProxyChild(targetOrigin: string): Promise<ProxyChild> {
  const child = spawnNode('bench/workers/proxy.ts', { env: { PROXY_TARGET: targetOrigin } });
  const line = await child.waitForLine((l) => l.includes('"url"'));
  const origin = (JSON.parse(line) as { url: string }).url;
  return { ...child, url: `${origin}/v1` };
}

/** CPU time (user+system, ms) a process has used so far, from /proc (Linux); NaN elsewhere. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** USER_HZ; 100 on every mainstream Linux build. */
const CLOCK_TICKS = 100;
