import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/providers/simulator/index.ts';
import { getJson, postJson } from '../helpers/service.ts';
import { PROCESS_TEST_TIMEOUT_MS, STARTUP_TIMEOUT_MS } from '../helpers/replicaProcess.ts';
import { waitFor } from '../helpers/waitFor.ts';

/** Starts `node src/server.ts` (the sources of what `npm start` runs compiled; test/e2e/compiled.test.ts runs that) and waits for its "service listening" line. */
async function startServer(env: Record<string, string>): Promise<{ child: ChildProcessWithoutNullStreams; url: string; lines: string[] }> {
  const childEnv: Record<string, string> = { ...(process.env as Record<string, string>), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env };
  for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL']) if (!(k in env)) delete childEnv[k];
  const child = spawn(process.execPath, ['src/server.ts'], { env: childEnv });
  const lines: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${lines.join('\n')}`)), STARTUP_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        lines.push(line);
        try {
          const parsed = JSON.parse(line) as { msg?: string; url?: string };
          if (parsed.msg === 'service listening' && parsed.url) {
            clearTimeout(timer);
            resolve(parsed.url);
          }
        } catch {
          /* not a log line */
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${lines.join('\n')}`)));
  });
  return { child, url, lines };
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('the service entry point (npm start)', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('with no provider configured, starts the embedded simulator, says so, and a run succeeds on it', async () => {
    const { child, url, lines } = await startServer({});
    children.push(child);
    expect(lines.some((l) => l.includes('embedded simulator'))).toBe(true);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const { body } = await postJson(`${url}/v1/runs`, { tool: 'bundle', input: 'offline?', replicates: 3 });
    expect(body.status).toBe('succeeded');
    expect(body.bundle.replicates.every((r: any) => r.provider === 'simulator')).toBe(true);
  });

  it('with OPENAI_BASE_URL set, calls that OpenAI-compatible server with three different seeds', async () => {
    const upstream = await startSimulator({ behavior: { answers: { kind: 'fixed', value: { answer: 'ok' } } } });
    try {
      const { child, url } = await startServer({ OPENAI_BASE_URL: upstream.url, OPENAI_API_KEY: 'sk-upstream-key-123456' });
      children.push(child);
      const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
      const { body } = await postJson(`${url}/v1/runs`, { tool: 'bundle', input: 'remote?', replicates: 3, agent: { output_schema: schema } });
      expect(body.status).toBe('succeeded');
      expect(body.bundle.replicates[0].provider).toBe('openai_compatible');
      expect(body.bundle.summary.pairwise_distances.flat().every((d: number) => d === 0)).toBe(true);
      expect(new Set(upstream.requests.map((r) => r.seed)).size).toBe(3);
      expect(upstream.requests[0]!.headers.authorization).toBe('[redacted]');
    } finally {
      await upstream.close();
    }
  });

  it('drains on SIGTERM: a running run finishes, then the process exits 0', async () => {
    const { child, url } = await startServer({ SIMULATOR_LATENCY_MS: '500', SHUTDOWN_GRACE_MS: '5000' });
    children.push(child);
    const pending = postJson(`${url}/v1/runs`, { tool: 'bundle', input: 'finish me', replicates: 1 });
    await waitFor(async () => /^orchestrator_active_runs 1$/m.test((await getJson(`${url}/metrics`)).body as string), { what: 'the run being active' });
    child.kill('SIGTERM');
    const { body } = await pending;
    expect(body.status).toBe('succeeded');
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
    expect(code).toBe(0);
  });

  it('refuses a bad configuration with a message naming the variable and a non-zero exit', async () => {
    const child = spawn(process.execPath, ['src/server.ts'], { env: { ...process.env, PORT: 'eighty', STORE: 'cassandra' } });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(err).toMatch(/PORT/);
    expect(err).toMatch(/STORE/);
  });
});
