import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postJson, startTestService, withService, type TestService } from '../helpers/service.ts';
import { waitFor } from '../helpers/waitFor.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;

const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

/** The spans of one run's trace, once its `run` span has ended (it ends after the answer has gone out). */
async function runSpans(exporter: InMemorySpanExporter, runId: string): Promise<ReadableSpan[]> {
  const run = await waitFor(() => exporter.getFinishedSpans().find((s) => s.name === 'run' && s.attributes['run.id'] === runId), { what: `the run span of ${runId}` });
  return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === run.spanContext().traceId);
}

describe('spans of a run (in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ spanExporter: exporter });
  });
  afterAll(async () => svc.close());
  beforeEach(() => {
    exporter.reset();
    svc.sim.reset();
  });

  it('a 3-replicate run sent with a traceparent: run → tool → 3 replicate → provider_call, in the caller’s trace', async () => {
    expect(svc.tracing.enabled).toBe(true);
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'traced run', replicates: 3, seed: 7 }, { traceparent: TRACEPARENT });
    expect(status).toBe(200);
    expect(body.status).toBe('succeeded');
    const spans = await runSpans(exporter, body.id);
    for (const s of spans) expect(s.spanContext().traceId).toBe(TRACE_ID);

    const [run, ...moreRuns] = named(spans, 'run');
    expect(moreRuns).toHaveLength(0);
    expect(parentOf(run!)).toBe(CALLER_SPAN);
    expect(run!.attributes).toMatchObject({
      'run.id': body.id,
      'tool.name': 'bundle',
      'tool.version': body.tool_version,
      'run.status': 'succeeded',
      'gen_ai.usage.input_tokens': body.usage.input_tokens,
      'gen_ai.usage.output_tokens': body.usage.output_tokens,
      'orchestrator.cost_usd': body.cost_usd,
    });
    expect(run!.status.code).toBe(1); // OK

    const tools = named(spans, 'tool');
    expect(tools).toHaveLength(1);
    expect(parentOf(tools[0]!)).toBe(spanId(run!));

    const replicates = named(spans, 'replicate');
    expect(replicates).toHaveLength(3);
    expect(replicates.map((r) => r.attributes['replicate.index']).sort()).toEqual([0, 1, 2]);
    for (const r of replicates) {
      expect(parentOf(r)).toBe(spanId(tools[0]!));
      const replicate = body.bundle.replicates[r.attributes['replicate.index'] as number];
      expect(r.attributes).toMatchObject({
        'replicate.seed': replicate.seed,
        'replicate.status': 'succeeded',
        'replicate.valid': true,
        'replicate.attempts': 1,
        'gen_ai.request.model': replicate.model,
        'gen_ai.usage.input_tokens': replicate.usage.input_tokens,
        'gen_ai.usage.output_tokens': replicate.usage.output_tokens,
      });
      // Content stays off spans unless OTEL_CAPTURE_CONTENT=true.
      expect(r.attributes['gen_ai.input.messages']).toBeUndefined();
    }

    const calls = named(spans, 'provider_call');
    expect(calls.length).toBeGreaterThanOrEqual(3);
    const replicateIds = new Set(replicates.map(spanId));
    for (const c of calls) {
      expect(replicateIds.has(parentOf(c)!)).toBe(true);
      expect(c.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'simulator', 'provider_call.attempt': 1, 'provider_call.breaker_outcome': 'success' });
      expect(c.attributes['gen_ai.request.seed']).toBe(replicates.find((r) => spanId(r) === parentOf(c))!.attributes['replicate.seed']);
      expect(c.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    }

    // The provider was told the provider_call span as its parent.
    const callIds = new Set(calls.map(spanId));
    expect(svc.sim.requests).toHaveLength(3);
    for (const r of svc.sim.requests) {
      const [, traceId, parent] = String(r.headers.traceparent).split('-');
      expect(traceId).toBe(TRACE_ID);
      expect(callIds.has(parent!)).toBe(true);
    }
  });

  it('a retried call (500, then 200) is two provider_call spans under one replicate, the first with its error', async () => {
    svc.sim.configure({ faults: [{ type: 'status', status: 500 }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'retried', replicates: 1 }, { traceparent: TRACEPARENT });
    expect(body.status).toBe('succeeded');
    expect(body.bundle.replicates[0].attempts).toBe(2);
    const spans = await runSpans(exporter, body.id);
    const [replicate] = named(spans, 'replicate');
    const calls = named(spans, 'provider_call').sort((a, b) => (a.attributes['provider_call.attempt'] as number) - (b.attributes['provider_call.attempt'] as number));
    expect(calls).toHaveLength(2);
    for (const c of calls) expect(parentOf(c)).toBe(spanId(replicate!));
    expect(calls[0]!.attributes).toMatchObject({ 'provider_call.attempt': 1, 'provider_call.breaker_outcome': 'failure', 'provider_call.retryable': true, 'http.response.status_code': 500, 'error.type': 'provider_error' });
    expect(calls[0]!.status.code).toBe(2); // ERROR
    expect(calls[1]!.attributes).toMatchObject({ 'provider_call.attempt': 2, 'provider_call.breaker_outcome': 'success' });
    expect(replicate!.attributes['replicate.attempts']).toBe(2);
  });

  it('a pipeline (triage) nests a tool span per step under the run’s tool span', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'triage', input: 'My order arrived broken!' });
    expect(body.status).toBe('succeeded');
    const spans = await runSpans(exporter, body.id);
    const [run] = named(spans, 'run');
    const tools = named(spans, 'tool');
    const outer = tools.find((t) => parentOf(t) === spanId(run!));
    expect(outer?.attributes['tool.name']).toBe('triage');
    const inner = tools.filter((t) => t !== outer);
    expect(inner.map((t) => t.attributes['tool.name'])).toEqual(expect.arrayContaining(['sentiment', 'answer']));
    for (const t of inner) {
      expect(parentOf(t)).toBe(spanId(outer!));
      expect(typeof t.attributes['tool.step']).toBe('string');
    }
    // Every replicate belongs to an inner step's tool span; every call to a replicate, a synthesis or a step that calls a model itself.
    const innerIds = new Set(inner.map(spanId));
    const replicates = named(spans, 'replicate');
    expect(replicates.length).toBeGreaterThanOrEqual(2);
    for (const r of replicates) expect(innerIds.has(parentOf(r)!)).toBe(true);
    const owners = new Set([...replicates, ...named(spans, 'synthesis'), ...inner].map(spanId));
    const calls = named(spans, 'provider_call');
    expect(calls.length).toBeGreaterThanOrEqual(replicates.length);
    for (const c of calls) expect(owners.has(parentOf(c)!)).toBe(true);
  });

  it('a synthesized run has a synthesis span under the tool span, with its call under it', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'synthesize', replicates: 2, synthesize: true });
    expect(body.status).toBe('succeeded');
    const spans = await runSpans(exporter, body.id);
    const [tool] = named(spans, 'tool');
    const [synthesis, ...more] = named(spans, 'synthesis');
    expect(more).toHaveLength(0);
    expect(parentOf(synthesis!)).toBe(spanId(tool!));
    expect(synthesis!.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(named(spans, 'provider_call').filter((c) => parentOf(c) === spanId(synthesis!))).toHaveLength(1);
  });

  it('a failed run ends its run span with status ERROR and the error code', async () => {
    svc.sim.configure({ faults: [{ type: 'status', status: 400 }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'refused', replicates: 1 });
    expect(body.status).toBe('failed');
    const spans = await runSpans(exporter, body.id);
    const [run] = named(spans, 'run');
    expect(run!.status.code).toBe(2);
    expect(run!.attributes['error.type']).toBe(body.error.code);
    expect(run!.attributes['run.status']).toBe('failed');
    expect(named(spans, 'replicate')[0]!.attributes['replicate.status']).toBe('failed');
  });

  it('every replicate carries started_at and ended_at (microseconds) around its latency', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'timed', replicates: 3 });
    for (const r of body.bundle.replicates) {
      expect(r.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(r.ended_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(r.ended_at >= r.started_at).toBe(true);
      expect(Date.parse(r.started_at)).toBeGreaterThanOrEqual(Date.parse(body.started_at) - 1);
      expect(Date.parse(r.ended_at)).toBeLessThanOrEqual(Date.parse(body.completed_at) + 1);
    }
  });
});

describe('content on spans', () => {
  it('with OTEL_CAPTURE_CONTENT=true, prompt and output go on the replicate span, redacted', async () => {
    const exporter = new InMemorySpanExporter();
    await withService({ spanExporter: exporter, env: { OTEL_CAPTURE_CONTENT: 'true', REDACT_PATTERNS: 'secret-[0-9]+' } }, async (svc) => {
      const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'my code is secret-1234, keep it', replicates: 1 });
      expect(body.status).toBe('succeeded');
      const spans = await runSpans(exporter, body.id);
      const [replicate] = named(spans, 'replicate');
      const input = String(replicate!.attributes['gen_ai.input.messages']);
      expect(input).toContain('my code is');
      expect(input).not.toContain('secret-1234');
      expect(replicate!.attributes['gen_ai.output.messages']).toBeTypeOf('string');
    });
  });
});

describe('without tracing configured', () => {
  it('the service records no spans and sends the provider a fresh child span id', async () => {
    await withService({}, async (svc) => {
      expect(svc.tracing.enabled).toBe(false);
      const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'untraced', replicates: 1 }, { traceparent: TRACEPARENT });
      expect(body.status).toBe('succeeded');
      const tp = String(svc.sim.requests[0]!.headers.traceparent);
      expect(tp).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
      expect(tp).not.toBe(TRACEPARENT);
    });
  });
});
