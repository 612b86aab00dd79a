/// <reference lib="dom" />
/// <reference lib="dom.asynciterable" />
// (The functions passed to page.evaluate run in the browser.)
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { ARTIFACTS, launchChromium, openPage, skipBrowser } from './chromium.ts';

const KEY = 'console-test-key-1';

describe.skipIf(skipBrowser)('the console at /console, in Chromium, with keys on', () => {
  let svc: TestService;
  let browser: Browser;
  beforeAll(async () => {
    svc = await startTestService({ env: { API_KEYS: KEY } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('starts a run from the page and shows its replicates, consensus and distance heat map live', async () => {
    // Replicates land one by one, and two answers differ, so there is something to disagree about.
    svc.sim.configure({ latencyMs: { sequence: [60, 160, 260, 360, 460] }, answers: { kind: 'sequence', values: ['yes', 'yes', 'no', 'yes', 'yes'] } });
    const { page, seen, context } = await openPage(browser);
    await page.goto(`${svc.url}/console`);
    await page.fill('#api-key', KEY);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#tool option[value="bundle"]', { state: 'attached' });
    // Before the key was typed, the page's first calls were refused (401): that is how it learns a key is needed.
    seen.problems.length = 0;
    await page.selectOption('#tool', 'bundle');
    await page.fill('#input', 'Is water wet? Answer yes or no.');
    await page.fill('#replicates', '5');

    // Record, as the page changes, what it showed while the run was still going.
    await page.evaluate(() => {
      const w = window as unknown as { liveRows: number[]; liveCells: number[] };
      w.liveRows = [];
      w.liveCells = [];
      new MutationObserver(() => {
        if (document.getElementById('run-status')?.textContent !== 'running') return;
        w.liveRows.push(document.querySelectorAll('#replicate-rows tr').length);
        w.liveCells.push(document.querySelectorAll('#heatmap .cell.value').length);
      }).observe(document.getElementById('run') as HTMLElement, { subtree: true, childList: true, characterData: true });
    });
    await page.click('#start');

    await page.waitForFunction(() => document.getElementById('run-status')?.textContent === 'succeeded');
    const view = await page.evaluate(() => {
      const w = window as unknown as { liveRows: number[]; liveCells: number[] };
      return {
        rows: document.querySelectorAll('#replicate-rows tr').length,
        cells: document.querySelectorAll('#heatmap .cell.value').length,
        consensus: document.getElementById('consensus')?.textContent,
        disagreementPaths: Array.from(document.querySelectorAll('#disagreements .disagreement')).map((d) => (d as HTMLElement).dataset.path),
        tokens: document.getElementById('budget-tokens')?.textContent,
        runs: document.querySelectorAll('#runs li').length,
        liveRows: w.liveRows,
        liveCells: w.liveCells,
        storedKey: sessionStorage.getItem('llm-orchestrator.api-key'),
      };
    });
    expect(view.rows).toBe(5);
    expect(view.cells).toBe(25);
    expect(view.consensus).toBe('yes');
    expect(view.disagreementPaths).toEqual(['']);
    expect(Number(view.tokens)).toBeGreaterThan(0);
    expect(view.runs).toBeGreaterThanOrEqual(1);
    expect(view.storedKey).toBe(KEY);
    // Live: rows and heat-map cells grew while the status said running (not only at the end).
    expect(view.liveRows.some((n) => n > 0 && n < 5)).toBe(true);
    expect(view.liveCells.some((n) => n > 0 && n < 25)).toBe(true);

    // The key never went into a URL; the stream used a token.
    expect(seen.requests.some((u) => u.includes(KEY))).toBe(false);
    expect(seen.requests.some((u) => /\/events\?stream_token=/.test(u))).toBe(true);
    expect(seen.problems).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-run.png'), fullPage: true });
    await context.close();
  });

  it('cancels a running run from the page', async () => {
    svc.sim.configure({ faults: [{ type: 'hang' }], latencyMs: 0 });
    const { page, seen, context } = await openPage(browser);
    await page.goto(`${svc.url}/console`);
    await page.fill('#api-key', KEY);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#tool option[value="bundle"]', { state: 'attached' });
    // Before the key was typed, the page's first calls were refused (401): that is how it learns a key is needed.
    seen.problems.length = 0;
    await page.fill('#replicates', '2');
    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('run-status')?.textContent === 'running');
    await page.click('#cancel');
    await page.waitForFunction(() => document.getElementById('run-status')?.textContent === 'cancelled');
    expect(seen.problems).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-cancelled.png'), fullPage: true });
    await context.close();
    svc.sim.reset();
  });

  it('tells a visitor without a key that one is needed', async () => {
    const { page, context } = await openPage(browser);
    await page.goto(`${svc.url}/console`);
    await page.waitForFunction(() => (document.getElementById('form-error')?.textContent ?? '').includes('API key'));
    await context.close();
  });
});
