import { describe, expect, it } from 'vitest';
import { runFreshScript } from '../helpers/freshProcess.ts';

/**
 * Run in a fresh process (this test file's imports would load the packages
 * themselves): records every package resolved while the whole service starts
 * (embedded simulator) and answers its health, readiness and metrics
 * endpoints, then after one run with an output schema.
 */
const SCRIPT = `
import { registerHooks } from 'node:module';
const loaded = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(result.url);
    if (m) loaded.add(m[1]);
    return result;
  },
});
const { loadConfig } = await import('./src/config.ts');
const { startService } = await import('./src/server.ts');
const { createLogger } = await import('./src/observability/logger.ts');
const { patternRedactor } = await import('./src/lib/redaction.ts');
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
const service = await startService(config, createLogger({ level: 'silent', redact: patternRedactor(undefined) }));
const probes = {};
for (const path of ['/healthz', '/readyz', '/metrics']) probes[path] = (await fetch(service.url + path)).status;
const readyIdle = await (await fetch(service.url + '/readyz')).json();
const idle = [...loaded];
const res = await fetch(service.url + '/v1/runs', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ tool: 'bundle', input: 'lazy', replicates: 2, agent: { output_schema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] } } }),
});
const run = await res.json();
const ready = await (await fetch(service.url + '/readyz')).json();
await service.close();
process.stdout.write(JSON.stringify({ probes, idle, afterRun: [...loaded], run, status: run.status, readyIdle, ready }));
`;

interface Outcome {
  probes: Record<string, number>;
  idle: string[];
  afterRun: string[];
  run: unknown;
  status: string;
  readyIdle: unknown;
  ready: unknown;
}

/** What a provider call needs and an idle service does not: loaded at the first run. */
const CALL_STACK = ['openai', '@openai/agents-core', '@openai/agents-openai', 'undici'];
/** JSON Schema compilers: at the first schema (ours) or the first Fastify route schema (none but /docs'). */
const SCHEMA_STACK = ['ajv', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler'];

describe('an idle service does not load what only a run needs', () => {
  it('answers /healthz, /readyz and /metrics without the SDKs or Ajv; the first run loads them and succeeds', async () => {
    const { probes, idle, afterRun, run, status, readyIdle, ready } = await runFreshScript<Outcome>(SCRIPT);
    expect(probes).toEqual({ '/healthz': 200, '/readyz': 200, '/metrics': 200 });
    expect(idle.filter((m) => CALL_STACK.includes(m) || SCHEMA_STACK.includes(m))).toEqual([]);
    expect(status, JSON.stringify(run)).toBe('succeeded');
    for (const m of [...CALL_STACK, 'ajv']) expect(afterRun).toContain(m);
    // Readiness reads the same before any provider client exists and after one has called.
    expect(ready).toEqual(readyIdle);
    expect(readyIdle).toMatchObject({ status: 'ready', checks: { provider: 'simulator', breakers: { open: 0, half_open: 0 } } });
  });
});
