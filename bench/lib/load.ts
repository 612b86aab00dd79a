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
export function request(url: string, init: { method?: string; body?: string; keepAlive?: boolean } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json' };
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
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
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

export async function runMany(origin: string, body: unknown, count: number, concurrency: number): Promise<LoadOutcome> {
  let next = 0;
  const out: LoadOutcome = { ok: 0, failed: 0, wallMs: 0, failures: [] };
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        const { status, run } = await postRun(origin, body);
        if (status === 200 && run?.status === 'succeeded') out.ok++;
        else {
          out.failed++;
          if (out.failures.length < 5) out.failures.push(`${status} ${JSON.stringify(run?.error ?? run).slice(0, 200)}`);
        }
      } catch (error) {
        out.failed++;
        if (out.failures.length < 5) out.failures.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  out.wallMs = performance.now() - t0;
  return out;
}
