/**
 * HTTP from the bench process to the service for closed-loop load. Uses a
 * node:http keep-alive agent the bench controls, so its idle connections can
 * be closed on purpose before memory readings (fetch's global pool keeps
 * them for the server's keep-alive hint, 72 s with Fastify).
 */
import http from 'node:http';

let agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/** Closes every pooled connection to the service (the service then sees them close). */
export function closeIdleConnections(): void {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
}

export interface HttpAnswer {
  status: number;
  text: string;
}

/** One request; `keepAlive: false` uses a fresh connection closed after the answer. */
export function request(
  url: string,
  init: { method?: string; body?: string; keepAlive?: boolean; headers?: Record<string, string> } = {},
): Promise<HttpAnswer & { headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json', ...init.headers };
    if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(init.body);
    }
    const req = http.request(url, { method: init.method ?? 'GET', headers, agent: init.keepAlive === false ? false : agent }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface LoadOutcome {
  ok: number;
  failed: number;
  wallMs: number;
  failures: string[];
}

export async function postRun(origin: string, body: unknown): Promise<{ status: number; run: any; bytes: number }> {
  const { status, text } = await request(`${origin}/v1/runs`, { method: 'POST', body: JSON.stringify(body) });
  let run: any = null;
  try {
    run = JSON.parse(text);
  } catch {
    run = { raw: text.slice(0, 200) };
  }
  return { status, run, bytes: Buffer.byteLength(text) };
}

/**
 * `count` runs of `one(i)`, `concurrency` at a time: each answers null when
 * the run went as expected, else why not (the first five reasons are kept).
 */
async function runPool(count: number, concurrency: number, one: (i: number) => Promise<string | null>): Promise<LoadOutcome> {
  let next = 0;
  const out: LoadOutcome = { ok: 0, failed: 0, wallMs: 0, failures: [] };
  const t0 = performance.now();
  const fail = (why: string) => {
    out.failed++;
    if (out.failures.length < 5) out.failures.push(why);
  };
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        const why = await one(i);
        if (why === null) out.ok++;
        else fail(why);
      } catch (error) {
        fail(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  out.wallMs = performance.now() - t0;
  return out;
}

/** `count` POSTs of `body` (or of `body(i)` for the i-th run), `concurrency` at a time. */
export function runMany(origin: string, body: unknown, count: number, concurrency: number): Promise<LoadOutcome> {
  return runPool(count, concurrency, async (i) => {
    const { status, run } = await postRun(origin, typeof body === 'function' ? (body as (i: number) => unknown)(i) : body);
    return status === 200 && run?.status === 'succeeded' ? null : `${status} ${JSON.stringify(run?.error ?? run).slice(0, 200)}`;
  });
}

/**
 * One run of the mixed workload of the leak check, by `i` mod 10: 0–5 a
 * plain POST (the answer is the record), 6 streamed (SSE until
 * run_completed), 7 with an Idempotency-Key, then the same request again
 * (a replay), 8 in the background, polled with GET until it ends, 9 a plain
 * POST followed by a GET of its record. Every path that keeps per-run state
 * (store record and events, stream listeners, idempotency records, the live
 * record of the orchestrator) is taken on each cycle of 10. True when the
 * run succeeded and every answer was as expected.
 */
export async function mixedRun(origin: string, body: Record<string, unknown>, i: number): Promise<boolean> {
  const kind = i % 10;
  const url = `${origin}/v1/runs`;
  const succeeded = (text: string) => {
    const run = JSON.parse(text) as { status?: string };
    return run.status === 'succeeded';
  };
  if (kind === 6) {
    const r = await request(url, { method: 'POST', body: JSON.stringify({ ...body, stream: true }), headers: { accept: 'text/event-stream' } });
    return r.status === 200 && r.text.includes('event: run_completed') && r.text.includes('"status":"succeeded"');
  }
  if (kind === 7) {
    const headers = { 'idempotency-key': `leak-${process.pid}-${i}-${Math.random().toString(36).slice(2)}` };
    const first = await request(url, { method: 'POST', body: JSON.stringify(body), headers });
    const again = await request(url, { method: 'POST', body: JSON.stringify(body), headers });
    return first.status === 200 && succeeded(first.text) && again.status === 200 && again.headers['idempotent-replayed'] === 'true';
  }
  if (kind === 8) {
    const r = await request(url, { method: 'POST', body: JSON.stringify({ ...body, background: true }) });
    if (r.status !== 202) return false;
    const { id } = JSON.parse(r.text) as { id: string };
    // Polled until it ends; the bound is wall time (generous: a loaded host stretches runs), not a poll count.
    for (const deadline = performance.now() + 30_000; performance.now() < deadline; ) {
      const g = await request(`${url}/${id}`);
      if (g.status !== 200) return false;
      const status = (JSON.parse(g.text) as { status: string }).status;
      if (status === 'succeeded') return true;
      if (status !== 'queued' && status !== 'running') return false;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return false;
  }
  const r = await request(url, { method: 'POST', body: JSON.stringify(body) });
  if (r.status !== 200 || !succeeded(r.text)) return false;
  if (kind !== 9) return true;
  const { id } = JSON.parse(r.text) as { id: string };
  const g = await request(`${url}/${id}`);
  return g.status === 200 && succeeded(g.text);
}

/** `count` runs of {@link mixedRun}, `concurrency` at a time, numbered from `first`. */
export function runMixed(origin: string, body: Record<string, unknown>, count: number, concurrency: number, first = 0): Promise<LoadOutcome> {
  return runPool(count, concurrency, async (n) => {
    const i = first + n;
    return (await mixedRun(origin, body, i)) ? null : `run ${i} (kind ${i % 10}) did not succeed as expected`;
  });
}
