import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { IdGenerator, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TraceContext } from '../lib/trace.ts';

/** Instrumentation scope of every span the service makes. */
export const TRACER_NAME = 'llm-orchestrator';

/**
 * Spans of runs, in the run's own trace. The core holds one of these
 * (passed in, never global); when no exporter is configured it is
 * {@link NOOP_TRACING}, whose spans are one shared non-recording span, so
 * the default path builds no attributes and keeps nothing.
 */
export interface Tracing {
  /** False for the no-op tracing: callers skip building attributes. */
  readonly enabled: boolean;
  /** Whether prompt and output text may go on spans (`OTEL_CAPTURE_CONTENT`), redacted. */
  readonly captureContent: boolean;
  /**
   * The `run` span: its trace id is the run's `trace_id`; its parent is the
   * caller's span when a traceparent came in, else it is a root.
   */
  startRun(trace: TraceContext, attributes?: Attributes): Span;
  /** A span under `parent` (tool, replicate, provider_call, synthesis, handoff). */
  startChild(name: string, parent: Span, attributes?: Attributes, kind?: SpanKind): Span;
  /** Sends what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/** The shared span of the no-op tracing: records nothing, costs nothing. */
const NON_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Tracing that records nothing (no `OTEL_EXPORTER_OTLP_ENDPOINT`). */
export const NOOP_TRACING: Tracing = {
  enabled: false,
  captureContent: false,
  startRun: () => NON_RECORDING,
  startChild: () => NON_RECORDING,
  shutdown: async () => {},
};

/** Where spans go: an OTLP/HTTP endpoint, or an exporter of the caller's (tests). */
export interface TracingOptions {
  /** Full URL of the OTLP/HTTP traces endpoint (`…/v1/traces`). */
  tracesUrl?: string | undefined;
  /** Headers for the OTLP endpoint (auth), from `OTEL_EXPORTER_OTLP_HEADERS`. */
  headers?: Record<string, string> | undefined;
  /** Exports every span as it ends (tests: an InMemorySpanExporter). */
  exporter?: SpanExporter | undefined;
  serviceName?: string;
  serviceVersion?: string;
  captureContent?: boolean;
}

/**
 * Starts the OpenTelemetry SDK with an exporter, or answers
 * {@link NOOP_TRACING} when there is none: the SDK and exporter modules are
 * loaded only then, so the default path pays nothing for them.
 */
export async function createTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.exporter && !options.tracesUrl) return NOOP_TRACING;
  const [{ BasicTracerProvider, BatchSpanProcessor, RandomIdGenerator, SimpleSpanProcessor }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
  ]);
  let processor: SpanProcessor;
  if (options.exporter) processor = new SimpleSpanProcessor(options.exporter);
  else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: options.tracesUrl, headers: options.headers ?? {} }));
  }
  const ids = new RunTraceIds(new RandomIdGenerator());
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? TRACER_NAME, ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}) }),
    idGenerator: ids,
    spanProcessors: [processor],
  });
  const tracer: Tracer = provider.getTracer(TRACER_NAME, options.serviceVersion);
  return {
    enabled: true,
    captureContent: options.captureContent ?? false,
    startRun(context, attributes) {
      if (context.parent_span_id) {
        const parent = trace.setSpanContext(ROOT_CONTEXT, {
          traceId: context.trace_id,
          spanId: context.parent_span_id,
          traceFlags: Number.parseInt(context.flags, 16) || 0,
          isRemote: true,
        });
        return tracer.startSpan('run', { kind: SpanKind.INTERNAL, ...(attributes ? { attributes } : {}) }, parent);
      }
      // A root span: the SDK asks the id generator for its trace id synchronously, inside startSpan.
      return ids.withTraceId(context.trace_id, () => tracer.startSpan('run', { root: true, kind: SpanKind.INTERNAL, ...(attributes ? { attributes } : {}) }, ROOT_CONTEXT));
    },
    startChild(name, parent, attributes, kind = SpanKind.INTERNAL) {
      return tracer.startSpan(name, { kind, ...(attributes ? { attributes } : {}) }, trace.setSpan(ROOT_CONTEXT, parent));
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}

/**
 * Trace ids from the run: a run span that starts a trace takes the run's
 * `trace_id` (already on the record, the logs and the provider requests),
 * so the exported trace is the one the caller was told about.
 */
class RunTraceIds implements IdGenerator {
  readonly #random: IdGenerator;
  #next: string | null = null;

  constructor(random: IdGenerator) {
    this.#random = random;
  }

  withTraceId<T>(traceId: string, fn: () => T): T {
    this.#next = traceId;
    try {
      return fn();
    } finally {
      this.#next = null;
    }
  }

  generateTraceId = (): string => {
    const next = this.#next;
    this.#next = null;
    return next ?? this.#random.generateTraceId();
  };

  generateSpanId = (): string => this.#random.generateSpanId();
}

/** A W3C traceparent naming `span` as the parent (for the provider request it stands for). */
export function traceparentOf(span: Span): string | null {
  const c = span.spanContext();
  if (!trace.isSpanContextValid(c)) return null;
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 1).toString(16).padStart(2, '0')}`;
}

/** Ends a span with its outcome: an error code makes its status ERROR (`error.type` = the code). */
export function endSpan(span: Span, outcome: { error?: { code: string; message: string } | null; attributes?: Attributes } = {}): void {
  if (outcome.attributes) span.setAttributes(outcome.attributes);
  if (outcome.error) {
    span.setAttribute('error.type', outcome.error.code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message.slice(0, 500) });
  } else span.setStatus({ code: SpanStatusCode.OK });
  span.end();
}

/** GenAI semantic-convention attributes of token usage. */
export function usageAttributes(usage: { input_tokens: number; output_tokens: number }): Attributes {
  return { 'gen_ai.usage.input_tokens': usage.input_tokens, 'gen_ai.usage.output_tokens': usage.output_tokens };
}
