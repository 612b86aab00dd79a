import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';
import type { $ZodIssue } from 'zod/v4/core';
import { ServiceError } from './errors.ts';
import type { TraceContext } from './core/trace.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Trace and request ids of this request (set in onRequest). */
    trace: TraceContext;
    /** Who is calling: a hash of their API key, or `public` when auth is off. */
    tenant: string;
  }
}

/** Parses `value` with `schema`, or throws a 400 `invalid_request` listing every problem. */
export function parseOr400<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((i) => describeIssue(i, value, what));
  throw new ServiceError('invalid_request', `invalid ${what}: ${problems.join('; ')}`, { details: { issues: problems } });
}

/** One zod issue in words: missing fields say "required"; a union says what its closest branch wanted. */
function describeIssue(issue: $ZodIssue, value: unknown, what: string, prefix: readonly PropertyKey[] = []): string[] {
  const full = [...prefix, ...issue.path];
  const path = full.length > 0 ? full.join('.') : what;
  if (issue.code === 'unrecognized_keys') return [`${path}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`];
  if (full.length > 0 && isMissing(value, full)) return [`${path}: required`];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // The branch that got furthest into the value is the one the caller meant (an array of messages, not a string).
    const depth = (branch: $ZodIssue[]) => Math.max(...branch.map((b) => b.path.length));
    const closest = issue.errors.reduce((best, branch) => (depth(branch) > depth(best) ? branch : best));
    if (depth(closest) > 0) return closest.flatMap((b) => describeIssue(b, value, what, full));
  }
  return [`${path}: ${issue.message}`];
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
