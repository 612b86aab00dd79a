/// <reference lib="dom" />
/// <reference lib="dom.asynciterable" />
// (The functions passed to page.evaluate run in the browser.)
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.ts';
import { ARTIFACTS, launchChromium, openPage, skipBrowser } from './chromium.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

describe('the API describes itself', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { API_KEYS: 'docs-key' } });
  });
  afterAll(async () => svc?.close());

  it('/openapi.json is a valid OpenAPI 3.1 document naming every API route, served without a key', async () => {
    const res = await fetch(`${svc.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    const validator = new Validator();
    const verdict = await validator.validate(doc as never);
    expect(verdict.errors ?? [], String(JSON.stringify(verdict.errors)).slice(0, 2000)).toEqual([]);
    expect(verdict.valid).toBe(true);
    expect(validator.version).toBe('3.1');

    const documented = Object.entries(doc.paths).flatMap(([p, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`));
    for (const route of ['POST /v1/runs', 'GET /v1/runs', 'GET /v1/runs/:id', 'GET /v1/runs/:id/events', 'POST /v1/runs/:id/cancel', 'POST /v1/runs/:id/stream_token', 'GET /v1/tools', 'GET /v1/tools/:name', 'GET /openapi.json', 'GET /openapi.yaml', 'GET /docs', 'GET /console', 'GET /healthz', 'GET /readyz', 'GET /metrics']) {
      expect(documented).toContain(route);
    }
    for (const route of documented) {
      const [method, url] = route.split(' ') as [string, string];
      expect(svc.app.hasRoute({ method: method as 'GET', url }), `${route} is registered`).toBe(true);
    }
    const yaml = await fetch(`${svc.url}/openapi.yaml`);
    expect(yaml.status).toBe(200);
    expect(await yaml.text()).toMatch(/^openapi: 3\.1\./);
  });

  describe.skipIf(skipBrowser)('in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => browser?.close());

    it('/docs renders the reference from local files only, with no console errors or missing resources', async () => {
      const { page, seen, context } = await openPage(browser);
      const statuses: string[] = [];
      page.on('response', (response) => {
        if (response.status() >= 400) statuses.push(`${response.status()} ${response.url()}`);
      });
      await page.goto(`${svc.url}/docs`);
      await page.waitForSelector('.swagger-ui .opblock-summary-path');
      const paths = await page.$$eval('.swagger-ui .opblock-summary-path', (nodes) => nodes.map((n) => n.getAttribute('data-path')));
      expect(paths).toContain('/v1/runs/{id}/events');
      expect(paths).toContain('/v1/runs/{id}/stream_token');
      expect(await page.textContent('.swagger-ui .info .title')).toContain('LLM orchestrator');
      // Swagger UI shows document problems as warnings in the page itself.
      expect(await page.textContent('.swagger-ui .information-container')).not.toMatch(/warning|not supported/i);
      expect(seen.problems).toEqual([]);
      expect(statuses).toEqual([]);
      // Offline: every request stayed on this server.
      expect(seen.requests.filter((u) => !u.startsWith(svc.url) && !u.startsWith('data:'))).toEqual([]);
      await page.screenshot({ path: path.join(ARTIFACTS, 'docs.png') });
      await context.close();
    });
  });
});
