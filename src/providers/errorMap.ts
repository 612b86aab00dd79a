import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { ModelBehaviorError } from '@openai/agents';
import { maskSecrets } from '../core/redaction.ts';
import { isAbortError, ServiceError } from '../errors.ts';

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);
const RETRYABLE_SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN']);

/** Whose fault a provider failure is: ours (never retried, never trips a breaker) or theirs. */
export type Fault = 'caller' | 'provider' | 'abort';

/** A provider failure mapped onto the service's vocabulary. */
export interface MappedError {
  error: ServiceError;
  fault: Fault;
  /** The provider's HTTP status, when it answered. */
  status: number | null;
}

/**
 * The one place that turns what the openai SDK, the Agents SDK and the
 * network throw into contract codes. `retryable` here is the retry policy's
 * input: 429, 408, 409, 5xx and socket failures are; other 4xx never are.
 */
export function mapProviderError(error: unknown): MappedError {
  if (error instanceof ServiceError) {
    return { error, fault: error.code === 'circuit_open' ? 'provider' : 'caller', status: null };
  }
  if (error instanceof APIUserAbortError || isAbortError(error)) {
    return { error: new ServiceError('cancelled', 'provider request aborted', { cause: error }), fault: 'abort', status: null };
  }
  if (error instanceof APIConnectionTimeoutError) {
    return { error: new ServiceError('timeout', 'provider request timed out', { cause: error, retryable: true }), fault: 'provider', status: null };
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const status = error.status;
    const retryAfterMs = parseRetryAfter(error.headers);
    const message = `provider answered ${status}: ${truncate(error.message)}`;
    if (status === 429) {
      return { error: new ServiceError('rate_limited', message, { cause: error, retryAfterMs, status: 429 }), fault: 'provider', status };
    }
    if (status === 401 || status === 403) {
      // Our credentials are wrong: a caller-side fault for the breaker, fatal for retries.
      return { error: new ServiceError('provider_error', message, { cause: error, retryable: false, details: { provider_status: status } }), fault: 'caller', status };
    }
    const retryable = RETRYABLE_STATUS.has(status) || status >= 500;
    return {
      error: new ServiceError('provider_error', message, { cause: error, retryable, retryAfterMs, details: { provider_status: status } }),
      fault: retryable ? 'provider' : 'caller',
      status,
    };
  }
  if (error instanceof APIConnectionError || hasSocketCode(error)) {
    return { error: new ServiceError('provider_error', `provider unreachable: ${truncate(String((error as Error).message))}`, { cause: error, retryable: true }), fault: 'provider', status: null };
  }
  if (error instanceof ModelBehaviorError || error instanceof SyntaxError) {
    // The model answered, but not in the shape asked for: the replicate is invalid, not the provider down.
    return { error: new ServiceError('schema_validation', `model output is not valid JSON: ${truncate(error.message)}`, { cause: error }), fault: 'caller', status: null };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { error: new ServiceError('provider_error', truncate(message), { cause: error, retryable: false }), fault: 'provider', status: null };
}

/** Reads `retry-after-ms`, then `retry-after` (seconds or an HTTP date), in ms. */
export function parseRetryAfter(headers: Headers | Record<string, string | null | undefined> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const get = (name: string): string | null | undefined =>
    headers instanceof Headers ? headers.get(name) : (headers as Record<string, string | null | undefined>)[name];
  const ms = get('retry-after-ms');
  if (ms != null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = get('retry-after');
  if (value == null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function hasSocketCode(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE_SOCKET_CODES.has(code)) return true;
    current = current.cause;
  }
  return false;
}

/** Provider messages reach results and logs: secrets they echo are masked, length bounded. */
function truncate(text: string, max = 300): string {
  const masked = maskSecrets(text);
  return masked.length > max ? `${masked.slice(0, max)}…` : masked;
}
