import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from 'openai';
// Not re-exported by the package root; they come from the SDK's parse helpers.
import { ContentFilterFinishReasonError, LengthFinishReasonError } from 'openai/core/error';
import {
  AgentsError,
  GuardrailExecutionError,
  InputGuardrailTripwireTriggered,
  MaxTurnsExceededError,
  ModelBehaviorError,
  ModelRefusalError,
  ModelTimeoutError,
  OutputGuardrailTripwireTriggered,
  SystemError,
  ToolInputGuardrailTripwireTriggered,
  ToolOutputGuardrailTripwireTriggered,
  UserError,
} from '@openai/agents-core';
import { maskSecrets } from '../lib/redaction.ts';
import { isAbortError, ServiceError } from '../errors.ts';

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);
const RETRYABLE_SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN']);

/**
 * The one place that turns what the openai SDK, the Agents SDK and the
 * network throw into contract codes, with whose fault each one is
 * (`ServiceError.fault`, defaulting to the error table's column). The retry
 * policy and the breakers read only `retryable` and `fault`: 429, 408, 409,
 * 5xx, socket failures and timeouts are the provider's; other 4xx, refusals
 * and every Agents SDK error that the request caused are the caller's.
 */
export function mapProviderError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof APIUserAbortError || isAbortError(error)) {
    return new ServiceError('cancelled', 'provider request aborted', { cause: error });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new ServiceError('timeout', 'provider request timed out', { cause: error, retryable: true });
  }
  if (error instanceof APIError && typeof error.status === 'number') return fromStatus(error, error.status);
  // Before the socket codes: the SDK's ModelTimeoutError carries code ETIMEDOUT but is a timeout.
  if (error instanceof AgentsError || error instanceof SyntaxError) return fromAgentsError(error);
  if (error instanceof APIConnectionError || hasSocketCode(error)) {
    return new ServiceError('provider_error', `provider unreachable: ${truncate(String((error as Error).message))}`, { cause: error, retryable: true });
  }
  if (error instanceof LengthFinishReasonError || error instanceof ContentFilterFinishReasonError) {
    // The answer was cut at the token limit asked for, or filtered for this content: the request's doing.
    return new ServiceError('provider_error', truncate(error.message), { cause: error, retryable: false, fault: 'caller' });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof OpenAIError) {
    // The openai SDK found something wrong with what the provider sent: the provider's, but not worth repeating.
    return new ServiceError('provider_error', truncate(message), { cause: error, retryable: false });
  }
  // Anything else was thrown by our code or a library, not reported by the provider: never charged to it.
  return new ServiceError('provider_error', truncate(message), { cause: error, retryable: false, fault: 'service' });
}

function fromStatus(error: APIError, status: number): ServiceError {
  const retryAfterMs = parseRetryAfter(error.headers);
  const message = `provider answered ${status}: ${truncate(error.message)}`;
  if (status === 429) return new ServiceError('rate_limited', message, { cause: error, retryAfterMs, details: { provider_status: status } });
  const retryable = RETRYABLE_STATUS.has(status) || status >= 500;
  // 401/403 are our credentials, other 4xx our request: the provider is up and answering.
  return new ServiceError('provider_error', message, {
    cause: error,
    retryable,
    fault: retryable ? 'provider' : 'caller',
    retryAfterMs,
    details: { provider_status: status },
  });
}

/**
 * Errors the Agents SDK raises after the provider answered. Apart from its
 * own model timeout and internal errors they are all the request's doing:
 * the model refused this prompt, did not answer in the shape asked for, or a
 * guardrail or the SDK's own checks stopped it. None is retried (the same
 * request would get the same answer) and none trips a breaker.
 */
function fromAgentsError(error: AgentsError | SyntaxError): ServiceError {
  const caller = (code: 'provider_error' | 'schema_validation' | 'invalid_request', message: string, details?: Record<string, unknown>) =>
    new ServiceError(code, truncate(message), { cause: error, retryable: false, fault: 'caller', ...(details ? { details } : {}) });
  if (error instanceof ModelTimeoutError) {
    return new ServiceError('timeout', `provider call timed out after ${error.timeoutMs} ms`, { cause: error, retryable: true });
  }
  if (error instanceof ModelRefusalError) {
    return caller('provider_error', `the model refused: ${error.refusal}`, { reason: 'model_refusal', refusal: truncate(error.refusal) });
  }
  if (error instanceof ModelBehaviorError || error instanceof SyntaxError) {
    return caller('schema_validation', `model output is not valid JSON: ${error.message}`);
  }
  if (error instanceof MaxTurnsExceededError) {
    // maxTurns is 1 and no tools are given: the answer had no final output (e.g. no structured output at all).
    return caller('schema_validation', `model gave no final output: ${error.message}`, { reason: 'max_turns' });
  }
  if (
    error instanceof InputGuardrailTripwireTriggered ||
    error instanceof OutputGuardrailTripwireTriggered ||
    error instanceof ToolInputGuardrailTripwireTriggered ||
    error instanceof ToolOutputGuardrailTripwireTriggered ||
    error instanceof GuardrailExecutionError
  ) {
    return caller('provider_error', `a guardrail stopped the call: ${error.message}`, { reason: 'guardrail' });
  }
  if (error instanceof UserError) return caller('invalid_request', `the Agents SDK refused the call: ${error.message}`);
  if (error instanceof SystemError) {
    return new ServiceError('internal', `Agents SDK error: ${truncate(error.message)}`, { cause: error, retryable: false });
  }
  // Any other SDK error (tool call or tool timeout errors, future classes): raised after the provider answered, so not the provider's.
  return caller('provider_error', `Agents SDK error: ${error.message}`, { reason: 'agents_sdk' });
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
