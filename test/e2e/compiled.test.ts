import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moduleFile } from '../../src/toolkit/loader.ts';
import { getJson, postJson } from '../helpers/service.ts';
import { PROCESS_TEST_TIMEOUT_MS, startReplica, type Replica } from '../helpers/replicaProcess.ts';

/**
 * The service as `npm start` runs it: its prestart script (`npm run build`,
 * JavaScript in dist/), then the start script's `node <flags> <script>`,
 * here with a preload that records every module URL the process loads and
 * whether Node's type stripper (amaro) was loaded.
 */
const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> };
const START = pkg.scripts.start!.trim().split(/\s+/);
const START_ARGV = START.slice(START.indexOf('node') + 1);

const RECORDER = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const urls = [];
registerHooks({ load(url, context, next) { urls.push(url); return next(url, context); } });
process.on('exit', () => {
  const stripper = process.moduleLoadList.some((m) => m.includes('internal/deps/amaro'));
  writeFileSync(process.env.LOADED_URLS_FILE, JSON.stringify({ urls, stripper }));
});
`;

interface Loaded {
  urls: string[];
  stripper: boolean;
}

let dir: string;
let recorder: string;
beforeAll(async () => {
  await promisify(execFile)('npm', ['run', '--silent', 'prestart'], { timeout: 120_000 });
  dir = await mkdtemp(path.join(tmpdir(), 'compiled-'));
  recorder = path.join(dir, 'recorder.mjs');
  await writeFile(recorder, RECORDER);
}, 150_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts `npm start`'s command line under the recorder; `stop()` ends it (SIGTERM, drained) and answers what it loaded. */
async function startCompiled(env: Record<string, string> = {}): Promise<{ replica: Replica; stop(): Promise<Loaded> }> {
  const file = path.join(dir, `loaded-${Math.random().toString(36).slice(2)}.json`);
  const replica = await startReplica({ LOADED_URLS_FILE: file, ...env }, ['--import', pathToFileURL(recorder).href, ...START_ARGV]);
  return {
    replica,
    async stop() {
      replica.child.kill('SIGTERM');
      await replica.exited;
      return JSON.parse(await readFile(file, 'utf8')) as Loaded;
    },
  };
}

const typescriptFiles = (urls: string[]) => urls.filter((u) => /\.[cm]?tsx?$/.test(new URL(u).pathname));

describe('the compiled service (what npm start runs)', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('runs JavaScript from dist/ with the semi-space flag, and gc exposed for the collection at the end of start-up', () => {
    expect(START_ARGV).toEqual(['--max-semi-space-size=32', '--heap-growing-percent=50', '--expose-gc', 'dist/src/server.js']);
  });

  it('answers /healthz, its API document, its console and a one-replicate run on the embedded simulator, and loads no .ts file and never the type stripper', async () => {
    const { replica, stop } = await startCompiled();
    let loaded: Loaded;
    try {
      expect((await getJson(`${replica.url}/healthz`)).status).toBe(200);
      // openapi.yaml and public/console sit at the project root, not under dist/.
      expect((await getJson(`${replica.url}/openapi.json`)).body.openapi).toMatch(/^3\./);
      expect((await fetch(`${replica.url}/console`)).status).toBe(200);
      const run = await postJson(`${replica.url}/v1/runs`, { tool: 'bundle', input: 'compiled', replicates: 1 });
      expect(run.body, JSON.stringify(run.body)).toMatchObject({ status: 'succeeded', tool: 'bundle' });
      // The .yaml tools still come from tools/.
      const tools = (await getJson(`${replica.url}/v1/tools`)).body.data.map((t: { name: string }) => t.name);
      expect(tools).toEqual(expect.arrayContaining(['bundle', 'sentiment', 'answer']));
    } finally {
      loaded = await stop();
    }
    expect(typescriptFiles(loaded.urls)).toEqual([]);
    expect(loaded.stripper).toBe(false);
    const ours = loaded.urls.filter((u) => u.startsWith(pathToFileURL(process.cwd()).href) && !u.includes('/node_modules/'));
    expect(ours).toContain(pathToFileURL(path.resolve('dist/tools/bundle.js')).href);
    expect(ours.every((u) => u.includes('/dist/')), ours.join('\n')).toBe(true);
  });

  it('imports a .ts tool of a tools directory of your own as it is (Node strips its types)', async () => {
    const own = await mkdtemp(path.join(dir, 'tools-'));
    for (const f of await readdir('tools')) if (f.endsWith('.yaml')) await cp(path.join('tools', f), path.join(own, f));
    await writeFile(
      path.join(own, 'echo.ts'),
      `import type { ToolContext, ToolDefinition, ToolOutcome } from ${JSON.stringify(path.resolve('src/toolkit/api.ts'))};
interface Echoed { echoed: unknown }
export const tool: ToolDefinition = {
  name: 'own_echo', version: '1.0.0', description: 'Echoes its input.', tags: [],
  input_schema: { type: 'object' }, output_schema: { type: 'object' },
  async execute(ctx: ToolContext): Promise<ToolOutcome> {
    const output: Echoed = { echoed: ctx.request.input };
    return { output, bundle: null };
  },
};
`,
    );
    // The shipped planner rules fall back to `bundle`, which this directory has not.
    await writeFile(path.join(dir, 'planner.yaml'), 'default: own_echo\nrules: []\n');
    const { replica, stop } = await startCompiled({ TOOLS_DIR: own, PLANNER_RULES: path.join(dir, 'planner.yaml') });
    let loaded: Loaded;
    try {
      const run = await postJson(`${replica.url}/v1/runs`, { tool: 'own_echo', input: 'hello' });
      expect(run.body, JSON.stringify(run.body)).toMatchObject({ status: 'succeeded', output: { echoed: 'hello' } });
      expect((await postJson(`${replica.url}/v1/runs`, { tool: 'sentiment', input: 'I love it', replicates: 1 })).body.status).toBe('succeeded');
    } finally {
      loaded = await stop();
    }
    expect(typescriptFiles(loaded.urls)).toEqual([pathToFileURL(path.join(own, 'echo.ts')).href]);
  });
});

describe('which file a tool module is imported from', () => {
  it('compiled, a shipped .ts tool is imported from its JavaScript in dist/; anything else as it is', () => {
    const shipped = path.resolve('tools/bundle.ts');
    expect(moduleFile(shipped, true)).toBe(path.resolve('dist/tools/bundle.js'));
    expect(moduleFile(shipped, false)).toBe(shipped);
    // In the project but never built (the build covers src/, routes/ and tools/), or outside it.
    expect(moduleFile(path.resolve('test/fixtures/tool.ts'), true)).toBe(path.resolve('test/fixtures/tool.ts'));
    expect(moduleFile(path.join(tmpdir(), 'tools', 'echo.ts'), true)).toBe(path.join(tmpdir(), 'tools', 'echo.ts'));
    expect(moduleFile(path.resolve('tools/other.mjs'), true)).toBe(path.resolve('tools/other.mjs'));
  });
});
