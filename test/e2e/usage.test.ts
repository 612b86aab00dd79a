/// <reference lib="dom" />
/// <reference lib="dom.asynciterable" />
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openPage, skipBrowser } from '../browser/chromium.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

/*
 * docs/usage.md stays true: its code blocks are taken from the page as
 * written and run against a real service with API keys and CORS on.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const KEY = 'usage-doc-key-1';

/** The fenced blocks of one language in docs/usage.md, in order. */
async function blocks(lang: string): Promise<string[]> {
  const text = await readFile(path.join(ROOT, 'docs/usage.md'), 'utf8');
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1] as string);
}

async function one(lang: string): Promise<string> {
  const found = await blocks(lang);
  expect(found, `docs/usage.md has one ${lang} block`).toHaveLength(1);
  return found[0] as string;
}

describe('docs/usage.md, every example run', () => {
  let svc: TestService;
  let page: { origin: string; html: string; close(): Promise<void> };
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    // The browser example is served from its own origin, which the service allows.
    let html = '';
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    page = {
      origin,
      get html() {
        return html;
      },
      set html(value: string) {
        html = value;
      },
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
    svc = await startTestService({ env: { API_KEYS: KEY, CORS_ORIGINS: origin } });
    env = { ...process.env, ORCH_URL: svc.url, ORCH_KEY: KEY };
  });
  afterAll(async () => {
    await svc?.close();
    await page?.close();
  });

  it('curl: streams the run to run_completed', async () => {
    const { stdout } = await run('bash', ['-c', await one('sh')], { env, timeout: 15_000 });
    const types = [...stdout.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(types[0]).toBe('run_started');
    expect(types.filter((t) => t === 'replicate_done')).toHaveLength(3);
    expect(types.at(-1)).toBe('run_completed');
  });

  it('Python (standard library): starts the run, follows it, prints the consensus', async () => {
    const { stdout } = await run('python3', ['-c', await one('python')], { env, timeout: 15_000 });
    expect(stdout).toMatch(/^started run_/m);
    expect(stdout.match(/^replicate \d succeeded$/gm)).toHaveLength(3);
    expect(stdout).toMatch(/^status succeeded$/m);
    expect(stdout).toMatch(/^consensus \{"answer": ".+"\}$/m);
  });

  it('TypeScript (fetch and eventsource): starts the run, follows it by stream token, prints the consensus', async () => {
    // Written inside the repository so that `eventsource` resolves from its node_modules.
    const dir = await mkdtemp(path.join(ROOT, '.tmp-usage-'));
    try {
      const file = path.join(dir, 'example.ts');
      await writeFile(file, await one('ts'));
      const { stdout } = await run(process.execPath, [file], { env, timeout: 15_000 });
      expect(stdout).toMatch(/^started run_/m);
      expect(stdout.match(/^replicate \d succeeded$/gm)).toHaveLength(3);
      expect(stdout).toMatch(/^status succeeded$/m);
      expect(stdout).toMatch(/^consensus \{"answer":".+"\}$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(skipBrowser)('a browser page on another origin: starts the run with the key, follows it with the token', async () => {
    const html = await one('html');
    expect(html).toContain("const API = 'http://localhost:8080';");
    expect(html).toContain("const KEY = 'your-api-key';");
    page.html = html.replace("const API = 'http://localhost:8080';", `const API = '${svc.url}';`).replace("const KEY = 'your-api-key';", `const KEY = '${KEY}';`);
    const browser = await launchChromium();
    try {
      const { page: tab, seen } = await openPage(browser);
      await tab.goto(page.origin);
      await tab.waitForFunction(() => (document.getElementById('out')?.textContent ?? '').includes('consensus'));
      const out = (await tab.textContent('#out')) ?? '';
      expect(out).toMatch(/^started run_/m);
      expect(out.match(/^replicate \d succeeded$/gm)).toHaveLength(3);
      expect(out).toMatch(/^status succeeded$/m);
      expect(seen.problems).toEqual([]);
      expect(seen.requests.some((u) => u.includes(KEY))).toBe(false);
    } finally {
      await browser.close();
    }
  });
});
