import type { FastifyCorsOptions } from '@fastify/cors';
import type { Config } from './config.ts';

/** Request headers a page may send: the API's own (auth, idempotency, resumption, tracing). */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'last-event-id', 'traceparent', 'x-request-id'];

/** Response headers a page may read (fetch hides all but a few unless exposed). */
export const CORS_EXPOSED_HEADERS = ['x-request-id', 'location', 'idempotent-replayed', 'retry-after', 'stream-token'];

/**
 * The CORS settings of `CORS_ORIGINS` (comma-separated origins, or `*`),
 * or null when unset (CORS off: browsers on other origins are refused by
 * their own same-origin policy). Credentials (cookies) are never allowed:
 * the API authenticates with bearer keys and stream tokens only.
 */
export function corsOptions(config: Config): FastifyCorsOptions | null {
  const spec = config.CORS_ORIGINS?.trim();
  if (!spec) return null;
  const origins = spec
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  return {
    origin: origins.includes('*') ? '*' : origins,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    credentials: false,
    maxAge: config.CORS_MAX_AGE_S,
    // Answered 204: the status every browser accepts for a preflight.
    optionsSuccessStatus: 204,
    strictPreflight: true,
  };
}

/**
 * JSON allows raw U+2028/U+2029 in strings, and `JSON.stringify` leaves
 * them raw; parsers that split SSE lines loosely (or treat the text as
 * JavaScript) would break the frame there. Escaped, the data means the same.
 */
export function escapeLineSeparators(json: string): string {
  return /[\u2028\u2029]/.test(json) ? json.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029') : json;
}
