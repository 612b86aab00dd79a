import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { docExamples, runExample } from '../helpers/docExamples.ts';
import { postJson } from '../helpers/service.ts';
import { PROCESS_TEST_TIMEOUT_MS, startReplica, type Replica } from '../helpers/replicaProcess.ts';
import { waitFor } from '../helpers/waitFor.ts';

/** An OTLP span as OTLP/HTTP JSON carries it. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

/** A tiny OTLP/HTTP receiver: collects the spans of every POST /v1/traces (JSON, gzip or not). */
async function startReceiver(): Promise<{ server: Server; url: string; spans: OtlpSpan[]; services: string[]; paths: string[]; auth: string[] }> {
  const spans: OtlpSpan[] = [];
  const services: string[] = [];
  const paths: string[] = [];
  const auth: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(req.url ?? '');
      auth.push(String(req.headers['x-collector-token']));
      const raw = Buffer.concat(chunks);
      const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')) as {
        resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name');
        if (service) services.push(String(service.value.stringValue));
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, services, paths, auth };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? (v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue) : undefined;
};

let replica: Replica | null = null;
let receiver: Server | null = null;
afterEach(async () => {
  if (replica && replica.child.exitCode === null) {
    replica.child.kill('SIGKILL');
    await replica.exited;
  }
  replica = null;
  receiver?.close();
  receiver = null;
});

describe('spans over real OTLP/HTTP (node src/server.ts)', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('a 3-replicate run sent with a traceparent arrives at the collector in that trace, flushed on shutdown', async () => {
    const collector = await startReceiver();
    receiver = collector.server;
    replica = await startReplica({
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=tok%2D1',
      OTEL_SERVICE_NAME: 'orch-otlp-test',
    });
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const { body } = await postJson(`${replica.url}/v1/runs`, { tool: 'bundle', input: 'exported', replicates: 3 }, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    expect(body.status).toBe('succeeded');
    // SIGTERM drains the runs, then flushes the batched spans before the process exits.
    replica.child.kill('SIGTERM');
    await replica.exited;
    await waitFor(() => collector.spans.some((s) => s.name === 'run'), { what: 'the run span at the collector' });

    const spans = collector.spans.filter((s) => s.traceId === traceId);
    expect(collector.paths.every((p) => p === '/v1/traces')).toBe(true);
    expect(collector.auth.every((a) => a === 'tok-1')).toBe(true);
    expect(collector.services).toContain('orch-otlp-test');
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const [run] = byName('run');
    expect(byName('run')).toHaveLength(1);
    expect(run!.parentSpanId).toBe('b7ad6b7169203331');
    expect(attr(run!, 'run.id')).toBe(body.id);
    const [tool] = byName('tool');
    expect(byName('tool')).toHaveLength(1);
    expect(tool!.parentSpanId).toBe(run!.spanId);
    const replicates = byName('replicate');
    expect(replicates).toHaveLength(3);
    for (const r of replicates) expect(r.parentSpanId).toBe(tool!.spanId);
    const calls = byName('provider_call');
    expect(calls.length).toBeGreaterThanOrEqual(3);
    const replicateIds = new Set(replicates.map((r) => r.spanId));
    for (const c of calls) {
      expect(replicateIds.has(c.parentSpanId!)).toBe(true);
      expect(Number(attr(c, 'gen_ai.usage.input_tokens'))).toBeGreaterThan(0);
    }
    expect(Number(attr(run!, 'gen_ai.usage.output_tokens'))).toBe(body.usage.output_tokens);
  });

  it('docs/tracing.md: the example receiver gets the run, tool, replicate and provider_call spans', async () => {
    const code = docExamples('docs/tracing.md').get('receiver');
    expect(code).toBeTypeOf('string');
    const example = (await runExample(code as string, { RECEIVER_PORT: '0' })) as { url: string; server: Server; received: Array<{ name: string; traceId: string; parentSpanId?: string }> };
    receiver = example.server;
    replica = await startReplica({ OTEL_EXPORTER_OTLP_ENDPOINT: example.url });
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const { body } = await postJson(`${replica.url}/v1/runs`, { tool: 'bundle', input: 'Is the sky blue?', replicates: 3 }, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    expect(body.status).toBe('succeeded');
    replica.child.kill('SIGTERM');
    await replica.exited;
    await waitFor(() => example.received.some((s) => s.name === 'run'), { what: 'the run span at the example receiver' });
    const names = example.received.filter((s) => s.traceId === traceId).map((s) => s.name);
    expect(names.filter((n) => n === 'run')).toHaveLength(1);
    expect(names.filter((n) => n === 'tool')).toHaveLength(1);
    expect(names.filter((n) => n === 'replicate')).toHaveLength(3);
    expect(names.filter((n) => n === 'provider_call')).toHaveLength(3);
    expect(example.received.find((s) => s.name === 'run')?.parentSpanId).toBe('b7ad6b7169203331');
  });
});
