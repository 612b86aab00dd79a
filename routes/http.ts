import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';
import type { $ZodIssue } from 'zod/v4/core';
import { ServiceError } from '../src/errors.ts';
import { traceFromHeaders, type TraceContext } from '../src/lib/trace.ts';
import { MAX_ECHO_CHARS, quoteForMessage, truncateForMessage } from '../src/lib/truncate.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Trace and request ids of this request (set in onRequest). */
    trace: TraceContext;
    /** Who is calling: a hash of their API key, or `public` when auth is off. */
    tenant: string;
  }
}

/** Problems listed in one 400, at most. */
const MAX_ISSUES = 20;

/** Parses `value` with `schema`, or throws a 400 `invalid_request` listing every problem. */
export function parseOr400<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  // Paths, keys and messages can carry the caller's text (a 1 MB key): each is cut, and so is the list.
  const problems = parsed.error.issues
    .slice(0, MAX_ISSUES)
    .flatMap((i) => describeIssue(i, value, what))
    .slice(0, MAX_ISSUES);
  throw new ServiceError('invalid_request', `invalid ${what}: ${problems.join('; ')}`, { details: { issues: problems } });
}

/** One zod issue in words: missing fields say "required"; a union says what its closest branch wanted. */
function describeIssue(issue: $ZodIssue, value: unknown, what: string, prefix: readonly PropertyKey[] = []): string[] {
  const full = [...prefix, ...issue.path];
  const path = truncateForMessage(full.length > 0 ? full.join('.') : what);
  if (issue.code === 'unrecognized_keys') return [`${path}: unknown field(s) ${issue.keys.slice(0, MAX_ISSUES).map((k) => quoteForMessage(k, 100)).join(', ')}`];
  if (full.length > 0 && isMissing(value, full)) return [`${path}: required`];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // The branch that got furthest into the value is the one the caller meant (an array of messages, not a string).
    const depth = (branch: $ZodIssue[]) => Math.max(...branch.map((b) => b.path.length));
    const closest = issue.errors.reduce((best, branch) => (depth(branch) > depth(best) ? branch : best));
    if (depth(closest) > 0) return closest.slice(0, MAX_ISSUES).flatMap((b) => describeIssue(b, value, what, full));
  }
  return [`${path}: ${truncateForMessage(issue.message)}`];
}

/** True when the field at `path` is absent (or undefined) in an object that exists: zod words that as a type or union error. */
function isMissing(value: unknown, path: readonly PropertyKey[]): boolean {
  let node: unknown = value;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return false;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return false;
  return (node as Record<PropertyKey, unknown>)[path[path.length - 1] as PropertyKey] === undefined;
}

export { MAX_ECHO_CHARS };
/** Characters of any error message in the envelope: a backstop for echoes no one truncated. */
export const MAX_ERROR_MESSAGE_CHARS = 2000;

/**
 * A caller-supplied value, cut to `max` characters (with the original length said) before it is quoted back.
 * The one echo helper ({@link truncateForMessage} in src/lib/truncate.ts, which layers below HTTP use), under its HTTP name.
 */
export const truncateEcho: (value: string, max?: number) => string = truncateForMessage;

/** The contract's error envelope. */
export function errorEnvelope(error: ServiceError, requestId: string) {
  const message = truncateEcho(error.message, MAX_ERROR_MESSAGE_CHARS);
  const body: Record<string, unknown> = { code: error.code, message, retryable: error.retryable, request_id: requestId };
  if (error.details !== undefined) body.details = error.details;
  return { error: body };
}

/** Sends a ServiceError as the envelope with its status (and Retry-After when known). */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: ServiceError): FastifyReply {
  if (error.retryAfterMs !== undefined) reply.header('retry-after', String(Math.ceil(error.retryAfterMs / 1000)));
  return reply.code(error.status).type('application/json').send(errorEnvelope(error, request.trace?.request_id ?? String(request.id)));
}

/** Sets the trace (and the `x-request-id` header) on a request that skipped the app's onRequest hook. */
function ensureTrace(request: FastifyRequest, reply: FastifyReply): void {
  if (request.trace) return;
  const requestId = request.headers['x-request-id'];
  const traceparent = request.headers.traceparent;
  request.trace = traceFromHeaders(typeof traceparent === 'string' ? traceparent : undefined, typeof requestId === 'string' ? requestId : undefined);
  reply.header('x-request-id', request.trace.request_id);
}

/**
 * Fastify's `frameworkErrors`: URLs the router refuses before any route or
 * hook runs (bad percent-encoding, an over-long path parameter) answer in
 * the envelope like everything else.
 */
export function frameworkErrorHandler(maxParamLength: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    ensureTrace(request, reply);
    const path = truncateEcho(request.raw.url?.split('?')[0] ?? '');
    let mapped: ServiceError;
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') mapped = new ServiceError('uri_too_long', `a path parameter is longer than ${maxParamLength} characters: ${path}`);
    else if (error.code === 'FST_ERR_BAD_URL') mapped = new ServiceError('invalid_request', `malformed URL (bad percent-encoding?): ${path}`);
    else mapped = new ServiceError('invalid_request', `the request could not be routed: ${path}`);
    sendError(request, reply, mapped);
  };
}

/**
 * The HTTP server's `clientError` handler (Fastify's `clientErrorHandler`):
 * requests Node refuses before Fastify sees them (headers over
 * HTTP_MAX_HEADER_BYTES, a request not received within its timeout,
 * malformed HTTP) get the envelope with an `x-request-id`, then the
 * connection closes.
 */
export function clientErrorHandler(log: { debug(obj: object, msg: string): void }) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    let mapped: ServiceError;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') mapped = new ServiceError('request_timeout', 'the request was not received in time (HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS)');
    else if (error.code === 'HPE_HEADER_OVERFLOW') mapped = new ServiceError('header_too_large', 'the request line and headers are larger than HTTP_MAX_HEADER_BYTES');
    else mapped = new ServiceError('invalid_request', 'malformed HTTP request');
    log.debug({ code: error.code, status: mapped.status }, 'client error');
    const { request_id } = traceFromHeaders(undefined, undefined);
    const body = JSON.stringify(errorEnvelope(mapped, request_id));
    // As Node does: no second status line once a response has started on this socket.
    const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !started) {
      socket.end(
        `HTTP/1.1 ${mapped.status} ${STATUS_CODES[mapped.status] ?? ''}\r\n` +
          `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `x-request-id: ${request_id}\r\nconnection: close\r\n\r\n${body}`,
      );
      // end() flushes the answer; a peer that never reads it must not hold the socket.
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
    }
  };
}
