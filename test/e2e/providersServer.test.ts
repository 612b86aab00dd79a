import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { PROCESS_TEST_TIMEOUT_MS, STARTUP_TIMEOUT_MS } from '../helpers/replicaProcess.ts';
import { getJson, postJson } from '../helpers/service.ts';

/** PROVIDERS_FILE through `node src/server.ts` (the sources of what `npm start` runs compiled). */
const children: ChildProcessWithoutNullStreams[] = [];
const simulators: Simulator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(simulators.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function providersFile(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'providers-'));
  dirs.push(dir);
  const file = path.join(dir, 'providers.yaml');
  writeFileSync(file, yaml);
  return file;
}

function spawnServer(env: Record<string, string>): { child: ChildProcessWithoutNullStreams; out: string[] } {
  const childEnv: Record<string, string> = { ...(process.env as Record<string, string>), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env };
  for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL']) if (!(k in env)) delete childEnv[k];
  const child = spawn(process.execPath, ['src/server.ts'], { env: childEnv });
  children.push(child);
  const out: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => out.push(d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => out.push(d));
  return { child, out };
}

async function listening(child: ChildProcessWithoutNullStreams, out: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out.join('')}`)), STARTUP_TIMEOUT_MS);
    child.stdout.on('data', () => {
      const match = /"url":"(http:[^"]+)"[^\n]*"msg":"service listening"|"msg":"service listening"[^\n]*"url":"(http:[^"]+)"/.exec(out.join(''));
      if (match) {
        clearTimeout(timer);
        resolve((match[1] ?? match[2]) as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out.join('')}`)));
  });
}

describe('PROVIDERS_FILE at startup', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('refuses a bad file with exit code 2, naming the file and every bad field', async () => {
    const file = providersFile('providers:\n  - name: Bad Name\n    base_url: not-a-url\n  - name: gw\n    base_url: http://127.0.0.1:1/v1\n    api_key_env: NO_SUCH_KEY_SET\n    colour: blue\n');
    const { child, out } = spawnServer({ PROVIDERS_FILE: file });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    const text = out.join('');
    expect(text).toContain(file);
    expect(text).toContain('providers.0.name');
    expect(text).toContain('providers.0.base_url');
    expect(text).toMatch(/providers\.1.*colour/);
  });

  it('serves the file providers beside OPENAI_BASE_URL: bare models go to the environment provider, p/x to p', async () => {
    const upstream = await startSimulator({});
    const p1 = await startSimulator({});
    simulators.push(upstream, p1);
    const file = providersFile(`providers:\n  - name: p1\n    base_url: ${p1.url}\n    api_key_env: P1_KEY\n    models: [m1]\n`);
    const { child, out } = spawnServer({ PROVIDERS_FILE: file, P1_KEY: 'sk-p1-key-never-shown', OPENAI_BASE_URL: upstream.url });
    const url = await listening(child, out);
    const bare = await postJson(`${url}/v1/runs`, { input: 'bare', replicates: 1, agent: { model: 'gpt-4o-mini' } });
    expect(bare.body.bundle.replicates[0]).toMatchObject({ provider: 'openai_compatible', model: 'gpt-4o-mini', status: 'succeeded' });
    const named = await postJson(`${url}/v1/runs`, { input: 'named', replicates: 1, agent: { model: 'p1/m1' } });
    expect(named.body.bundle.replicates[0]).toMatchObject({ provider: 'p1', model: 'm1', status: 'succeeded' });
    expect(upstream.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);
    expect(p1.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);
    const models = await getJson(`${url}/v1/models`);
    expect(models.body.providers.map((p: { name: string; default: boolean }) => [p.name, p.default])).toEqual([
      ['openai_compatible', true],
      ['p1', false],
    ]);
    expect(JSON.stringify(models.body)).not.toContain('sk-p1-key');
  });
});
