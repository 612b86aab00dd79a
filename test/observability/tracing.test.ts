import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { traceFromHeaders } from '../../src/lib/trace.ts';
import { createTracing, endSpan, NOOP_TRACING, traceparentOf, usageAttributes } from '../../src/observability/tracing.ts';

describe('tracing', () => {
  it('is the no-op tracing when neither an endpoint nor an exporter is given', async () => {
    const tracing = await createTracing({});
    expect(tracing).toBe(NOOP_TRACING);
    const span = tracing.startRun(traceFromHeaders(undefined, undefined));
    expect(span.isRecording()).toBe(false);
    expect(traceparentOf(span)).toBeNull();
  });

  it('starts a run span in the run’s own trace, as a root when no traceparent came in', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter });
    const context = traceFromHeaders(undefined, 'req-1');
    const run = tracing.startRun(context, { 'run.id': 'run_1' });
    const child = tracing.startChild('replicate', run, { 'replicate.index': 0 });
    endSpan(child, { attributes: usageAttributes({ input_tokens: 3, output_tokens: 5 }) });
    endSpan(run, { error: { code: 'timeout', message: 'run exceeded timeout_ms' } });
    const [first, second] = exporter.getFinishedSpans();
    expect(first?.name).toBe('replicate');
    expect(second?.name).toBe('run');
    expect(second?.spanContext().traceId).toBe(context.trace_id);
    expect(second?.parentSpanContext).toBeUndefined();
    expect(first?.spanContext().traceId).toBe(context.trace_id);
    expect(first?.parentSpanContext?.spanId).toBe(second?.spanContext().spanId);
    expect(first?.attributes['gen_ai.usage.output_tokens']).toBe(5);
    expect(second?.status.code).toBe(2);
    expect(second?.attributes['error.type']).toBe('timeout');
    await tracing.shutdown();
  });

  it('makes the caller’s span the parent of the run span when a traceparent came in', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter });
    const context = traceFromHeaders('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', undefined);
    const run = tracing.startRun(context);
    expect(traceparentOf(run)).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    run.end();
    const [span] = exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    await tracing.shutdown();
  });

  it('exports spans over OTLP/HTTP to a receiver', async () => {
    const bodies: unknown[] = [];
    let resolveReceived: () => void = () => {};
    const received = new Promise<void>((resolve) => {
      resolveReceived = resolve;
    });
    const receiver = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        bodies.push({ path: req.url, type: req.headers['content-type'], body: JSON.parse(text) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        resolveReceived();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    try {
      const tracing = await createTracing({ tracesUrl: `http://127.0.0.1:${port}/v1/traces`, serviceName: 'orch-test' });
      const context = traceFromHeaders(undefined, undefined);
      const run = tracing.startRun(context);
      tracing.startChild('tool', run).end();
      run.end();
      await tracing.shutdown();
      await received;
      const [first] = bodies as Array<{ path: string; type: string; body: any }>;
      expect(first?.path).toBe('/v1/traces');
      expect(first?.type).toContain('application/json');
      const resourceSpans = first?.body.resourceSpans[0];
      const service = resourceSpans.resource.attributes.find((a: any) => a.key === 'service.name');
      expect(service.value.stringValue).toBe('orch-test');
      const spans = resourceSpans.scopeSpans[0].spans as Array<{ name: string; traceId: string }>;
      expect(spans.map((s) => s.name).sort()).toEqual(['run', 'tool']);
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([context.trace_id]));
    } finally {
      receiver.close();
    }
  });
});
