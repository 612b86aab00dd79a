import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** Ids that follow a request from the client to the provider and into every log line. */
export interface TraceContext {
  /** 32 lowercase hex characters. */
  trace_id: string;
  /** The caller's span (parent of ours), when a traceparent came in. */
  parent_span_id: string | null;
  /** Sampled flag from the incoming traceparent (01 when we start the trace). */
  flags: string;
  request_id: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
const REQUEST_ID = /^[\w.:/+=@-]{1,128}$/;

/**
 * Reads a W3C traceparent. A malformed one is ignored (W3C: restart the
 * trace), never an error for the caller.
 */
export function parseTraceparent(header: string | undefined): { trace_id: string; span_id: string; flags: string } | null {
  if (!header) return null;
  const match = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!match) return null;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === 'ff' || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { trace_id: traceId, span_id: spanId, flags };
}

/** Builds the trace context of an incoming request. */
export function traceFromHeaders(traceparent: string | undefined, requestId: string | undefined): TraceContext {
  const parsed = parseTraceparent(traceparent);
  return {
    trace_id: parsed?.trace_id ?? newTraceId(),
    parent_span_id: parsed?.span_id ?? null,
    flags: parsed?.flags ?? '01',
    request_id: requestId !== undefined && REQUEST_ID.test(requestId) ? requestId : `req_${randomUUID().replaceAll('-', '')}`,
  };
}

/**
 * A fresh trace id: 32 hex digits from a v4 UUID (122 random bits, as W3C
 * asks). randomUUID draws from a pooled buffer, randomBytes makes a syscall
 * per id: this runs several times per run.
 */
export function newTraceId(): string {
  return randomUUID().replaceAll('-', '');
}

/** A fresh 16-hex-digit span id. */
export function newSpanId(): string {
  const u = randomUUID();
  // The first and last groups hold no version or variant bits.
  return u.slice(0, 8) + u.slice(24, 32);
}

/** A traceparent for an outgoing call: same trace, a new span of ours as parent. */
export function childTraceparent(trace: TraceContext): string {
  return `00-${trace.trace_id}-${newSpanId()}-${trace.flags}`;
}

/** Headers that outgoing provider requests of the current call should carry. */
export type OutgoingHeaders = {
  traceparent: string;
  'x-request-id': string;
};

/**
 * The Agents SDK gives no per-call header hook, so the provider client's
 * fetch reads the current call's trace headers from async context.
 */
export const outgoingHeaders = new AsyncLocalStorage<OutgoingHeaders>();
