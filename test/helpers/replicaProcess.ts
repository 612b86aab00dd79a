import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:net';
import { sseItems } from './sse.ts';

/** A service process (`node src/server.ts`, or the arguments given) and what it logged. */
export interface Replica {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** Parsed JSON log lines (pino), in order. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line (past or future) that `match` accepts. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
}

/** Longest wait for a starting process's "service listening" line: generous, the stall of a busy machine is not the defect. */
export const STARTUP_TIMEOUT_MS = 60_000;

/**
 * Timeout of a test (or hook) that boots service processes: booting one takes
 * seconds on a loaded 2-core machine (CI's), up to {@link STARTUP_TIMEOUT_MS},
 * more than the default 20 s leaves beside the test's own work.
 */
export const PROCESS_TEST_TIMEOUT_MS = 90_000;

/**
 * Starts `node src/server.ts` (or `node <argv>`, e.g. the compiled entry with
 * flags) with `env` on a free port and waits for its "service listening" line.
 */
export async function startReplica(env: Record<string, string>, argv: readonly string[] = ['src/server.ts']): Promise<Replica> {
  const childEnv: Record<string, string> = { ...(process.env as Record<string, string>), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env };
  for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL']) if (!(k in env)) delete childEnv[k];
  const child = spawn(process.execPath, [...argv], { env: childEnv });
  const logs: Record<string, unknown>[] = [];
  const text: string[] = [];
  const watchers = new Set<(line: Record<string, unknown>) => void>();
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const raw = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      text.push(raw);
      try {
        const line = JSON.parse(raw) as Record<string, unknown>;
        logs.push(line);
        for (const watcher of watchers) watcher(line);
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => text.push(chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waitForLog = (match: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const found = logs.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        watchers.delete(watcher);
        reject(new Error(`no such log line within ${timeoutMs} ms:\n${text.slice(-30).join('\n')}`));
      }, timeoutMs);
      const watcher = (line: Record<string, unknown>) => {
        if (!match(line)) return;
        clearTimeout(timer);
        watchers.delete(watcher);
        resolve(line);
      };
      watchers.add(watcher);
    });
  const startedExit = exited.then(() => {
    throw new Error(`server exited:\n${text.join('\n')}`);
  });
  // Booting a service process (type stripping, imports) takes seconds on a loaded 2-core machine; an exit fails at once.
  const listening = await Promise.race([waitForLog((l) => l.msg === 'service listening', STARTUP_TIMEOUT_MS), startedExit]);
  return { child, url: listening.url as string, logs, waitForLog, exited };
}

/** Kills a process with SIGKILL (no cleanup, as a crash) and waits for it to be gone. */
export async function crash(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** One SSE frame. */
export interface LiveFrame {
  id: string | null;
  event: string | null;
  data: any;
}

/** An SSE response read as it arrives: frames so far, a way to wait for one, and its end. */
export interface LiveStream {
  status: number;
  frames: LiveFrame[];
  comments: number;
  /** Resolves with the first frame (past or future) that `match` accepts; rejects if the stream ends first. */
  waitFor(match: (frame: LiveFrame) => boolean, timeoutMs?: number): Promise<LiveFrame>;
  /** Resolves when the server ends the response (`ended: true`) or the connection breaks (`ended: false`). */
  closed: Promise<{ ended: boolean }>;
  abort(): void;
}

/** Opens `url` as an SSE stream (GET, or POST with `body`) and reads it in the background. */
export async function openStream(url: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<LiveStream> {
  const controller = new AbortController();
  const res = await fetch(url, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: { accept: 'text/event-stream', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: controller.signal,
  });
  const frames: LiveFrame[] = [];
  const watchers = new Set<{ match: (f: LiveFrame) => boolean; resolve: (f: LiveFrame) => void; reject: (e: Error) => void }>();
  const live: LiveStream = {
    status: res.status,
    frames,
    comments: 0,
    waitFor(match, timeoutMs = 20_000) {
      const found = frames.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const entry = {
          match,
          resolve: (f: LiveFrame) => {
            clearTimeout(timer);
            resolve(f);
          },
          reject: (e: Error) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          watchers.delete(entry);
          reject(new Error(`no such frame within ${timeoutMs} ms; got ${frames.map((f) => f.event).join(',')}`));
        }, timeoutMs);
        watchers.add(entry);
      });
    },
    closed: Promise.resolve({ ended: true }),
    abort: () => controller.abort(),
  };
  live.closed = (async () => {
    if (!res.body) return { ended: true };
    let ended = true;
    try {
      for await (const item of sseItems(res.body as AsyncIterable<Uint8Array>)) {
        if ('comment' in item) {
          live.comments++;
          continue;
        }
        const frame = { id: item.frame.id, event: item.frame.event, data: JSON.parse(item.frame.data) };
        frames.push(frame);
        for (const w of [...watchers]) {
          if (w.match(frame)) {
            watchers.delete(w);
            w.resolve(frame);
          }
        }
      }
    } catch {
      ended = false;
    }
    for (const w of [...watchers]) w.reject(new Error(`stream ${ended ? 'ended' : 'broke'} after ${frames.map((f) => f.event).join(',')}`));
    watchers.clear();
    return { ended };
  })();
  return live;
}
