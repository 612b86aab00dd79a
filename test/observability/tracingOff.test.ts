import { describe, expect, it } from 'vitest';
import { runFreshScript } from '../helpers/freshProcess.ts';
import { createTracing, NOOP_TRACING } from '../../src/observability/tracing.ts';
import { startTestService } from '../helpers/service.ts';

/**
 * Run in a fresh process (this test file itself loads the SDK): records every
 * `@opentelemetry/*` module resolved while the whole service starts, runs a
 * 3-replicate run on the embedded simulator, and stops.
 */
const SCRIPT = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    const m = /node_modules\\/(@opentelemetry\\/[^/]+)/.exec(result.url);
    if (m && !loaded.includes(m[1])) loaded.push(m[1]);
    return result;
  },
});
const { loadConfig } = await import('./src/config.ts');
const { startService } = await import('./src/server.ts');
const { createLogger } = await import('./src/observability/logger.ts');
const { patternRedactor } = await import('./src/lib/redaction.ts');
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...JSON.parse(process.env.TRACING_OFF_ENV ?? '{}') });
const service = await startService(config, createLogger({ level: 'silent', redact: patternRedactor(undefined) }));
const res = await fetch(service.url + '/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'untraced', replicates: 3 }) });
const body = await res.json();
await service.close();
process.stdout.write(JSON.stringify({ status: body.status, loaded }));
`;

describe('without OTEL_* variables no tracing starts', () => {
  it('createTracing({}) is the no-op tracing', async () => {
    expect(await createTracing({})).toBe(NOOP_TRACING);
  });

  it('the test service built without an exporter has tracing off', async () => {
    const svc = await startTestService();
    try {
      expect(svc.tracing.enabled).toBe(false);
    } finally {
      await svc.close();
    }
  });

  it('the whole service starts and runs without loading the OpenTelemetry SDK or exporter (only the API)', async () => {
    const { status, loaded } = await runFreshScript<{ status: string; loaded: string[] }>(SCRIPT);
    expect(status).toBe('succeeded');
    expect(loaded).toContain('@opentelemetry/api');
    expect(loaded.filter((m) => m !== '@opentelemetry/api')).toEqual([]);
  });
});
