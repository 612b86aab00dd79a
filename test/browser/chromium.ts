import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (installed by .ci/run when missing). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Under CI the browser is part of the environment: never skip there, let the launch fail loudly. */
export const skipBrowser = process.env.CI !== 'true' && !existsSync(CHROMIUM);

/** Screenshots and other artifacts of the browser tests (gitignored; CI keeps them). */
export const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test-artifacts');

/**
 * Headless Chromium with a fresh temporary profile, no sandbox (containers
 * run as root), and nothing that talks to the network on its own.
 */
export async function launchChromium(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-gpu', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
}

/** What a page did wrong: console errors, failed requests, HTTP errors, requests to other hosts. */
export interface PageProblems {
  problems: string[];
  requests: string[];
}

/** Opens a page in its own context and records its problems and requests. */
export async function openPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; seen: PageProblems }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const seen: PageProblems = { problems: [], requests: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') seen.problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => seen.problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // An EventSource closed by the page shows up as an aborted request; that is the page's choice, not a failure.
    if (request.failure()?.errorText !== 'net::ERR_ABORTED') seen.problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  page.on('request', (request) => seen.requests.push(request.url()));
  return { context, page, seen };
}

/** A second, unrelated origin: a tiny server whose only page is a blank test page. */
export async function startPageServer(): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.url === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><html><head><meta charset="utf-8"><title>test page</title></head><body><h1>another origin</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
