import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';
import { ServiceError } from './errors.ts';
import { quoteForMessage, truncateForMessage } from './core/truncate.ts';
import type { TraceContext } from './core/trace.ts';

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
  const problems = parsed.error.issues.slice(0, MAX_ISSUES).map((i) => {
    const path = truncateForMessage(i.path.length > 0 ? i.path.join('.') : what);
    if (i.code === 'unrecognized_keys') return `${path}: unknown field(s) ${i.keys.slice(0, MAX_ISSUES).map((k) => quoteForMessage(k, 100)).join(', ')}`;
    return `${path}: ${truncateForMessage(i.message)}`;
  });
  throw new ServiceError('invalid_request', `invalid ${what}: ${problems.join('; ')}`, { details: { issues: problems } });
}

/** The contract's error envelope. */
export function errorEnvelope(error: ServiceError, requestId: string) {
  const body: Record<string, unknown> = { code: error.code, message: error.message, retryable: error.retryable, request_id: requestId };
  if (error.details !== undefined) body.details = error.details;
  return { error: body };
}

/** Sends a ServiceError as the envelope with its status (and Retry-After when known). */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: ServiceError): FastifyReply {
  if (error.retryAfterMs !== undefined) reply.header('retry-after', String(Math.ceil(error.retryAfterMs / 1000)));
  return reply.code(error.status).type('application/json').send(errorEnvelope(error, request.trace?.request_id ?? String(request.id)));
}
