import { APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from 'openai';
import {
  InputGuardrailTripwireTriggered,
  MaxTurnsExceededError,
  ModelBehaviorError,
  ModelRefusalError,
  ModelTimeoutError,
  SystemError,
  UserError,
} from '@openai/agents';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, ServiceError } from '../../src/errors.ts';
import { mapProviderError } from '../../src/providers/errorMap.ts';
import { breakerOutcome } from '../../src/reliability/breakers.ts';
import { nextRetryDelay } from '../../src/reliability/retry.ts';

const http = (status: number, headers: Record<string, string> = {}) =>
  APIError.generate(status, { error: { message: `status ${status}` } }, `status ${status}`, new Headers(headers));

/** What the service does about an error: retried at all, and what the breaker makes of it. */
function verdict(error: unknown) {
  const mapped = mapProviderError(error);
  const retried = nextRetryDelay({ failure: mapped, attempt: 1, waitedMs: 0, policy: { maxAttempts: 3, baseMs: 1, maxDelayMs: 1, maxTotalMs: 1000 }, random: () => 0 }) !== null;
  return { code: mapped.code, fault: mapped.fault, retryable: mapped.retryable, retried, breaker: breakerOutcome(mapped) };
}

describe('one error table decides retry and breaker', () => {
  it('gives every code a status, a retryable default and a fault', () => {
    for (const [code, entry] of Object.entries(ERROR_TABLE)) {
      expect(['caller', 'provider', 'service'], code).toContain(entry.fault);
      expect(new ServiceError(code as keyof typeof ERROR_TABLE, 'x').fault).toBe(entry.fault);
    }
  });

  it('docs/reliability.md lists every code with the table\'s status, retryable and fault', () => {
    const doc = readFileSync(new URL('../../docs/reliability.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Error taxonomy'), doc.indexOf('## Provider errors'));
    const rows = new Map<string, { status: number; retryable: string; fault: string }>();
    for (const m of section.matchAll(/^\| `([a-z_]+)` \| \(?(\d{3})\)?[^|]* \| ([a-z ]+?) \| ([a-z]+)[^|]* \|/gm)) {
      rows.set(m[1]!, { status: Number(m[2]), retryable: m[3]!, fault: m[4]! });
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_TABLE).sort());
    for (const [code, entry] of Object.entries(ERROR_TABLE)) {
      const row = rows.get(code)!;
      expect(row.status, code).toBe(entry.status);
      expect(row.fault, code).toBe(entry.fault);
      if (row.retryable !== 'per mapping') expect(row.retryable, code).toBe(entry.retryable ? 'yes' : 'no');
    }
  });

  it('the fault is not part of the JSON body', () => {
    expect(Object.keys(new ServiceError('provider_error', 'x').toJSON())).toEqual(['code', 'message', 'retryable']);
  });

  it.each([
    ['a provider 500', http(500), { code: 'provider_error', fault: 'provider', retried: true, breaker: 'failure' }],
    ['a provider 503', http(503), { code: 'provider_error', fault: 'provider', retried: true, breaker: 'failure' }],
    ['a connection timeout', new APIConnectionTimeoutError(), { code: 'timeout', fault: 'provider', retried: true, breaker: 'failure' }],
    ['the SDK model timeout', new ModelTimeoutError({ timeoutMs: 1000 }), { code: 'timeout', fault: 'provider', retried: true, breaker: 'failure' }],
    ['a 429', http(429, { 'retry-after': '1' }), { code: 'rate_limited', fault: 'provider', retried: true, breaker: 'ignored' }],
    ['a provider 400', http(400), { code: 'provider_error', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['a provider 401', http(401), { code: 'provider_error', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['a refusal', new ModelRefusalError('I cannot help with that.'), { code: 'provider_error', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['max turns', new MaxTurnsExceededError('Max turns (1) exceeded'), { code: 'schema_validation', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['a model behaviour error', new ModelBehaviorError('Invalid output type'), { code: 'schema_validation', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['unparsable JSON', new SyntaxError('Unexpected token'), { code: 'schema_validation', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['a guardrail tripwire', new InputGuardrailTripwireTriggered('tripped', { guardrail: { type: 'input', name: 'g' }, output: { tripwireTriggered: true, outputInfo: null } } as never), { code: 'provider_error', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['a UserError', new UserError('bad schema'), { code: 'invalid_request', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['an SDK SystemError', new SystemError('internal'), { code: 'internal', fault: 'service', retried: false, breaker: 'ignored' }],
    ['an abort', new APIUserAbortError(), { code: 'cancelled', fault: 'caller', retried: false, breaker: 'ignored' }],
    ['an openai SDK error about the answer', new OpenAIError('could not parse'), { code: 'provider_error', fault: 'provider', retried: false, breaker: 'failure' }],
    ['a bug of ours inside the call', new TypeError('x is undefined'), { code: 'provider_error', fault: 'service', retried: false, breaker: 'ignored' }],
    ['an open circuit', new ServiceError('circuit_open', 'open'), { code: 'circuit_open', fault: 'provider', retried: false, breaker: 'ignored' }],
  ])('%s', (_name, error, expected) => {
    expect(verdict(error)).toMatchObject(expected);
  });

  it('a refusal keeps the model\'s text in details, masked and bounded', () => {
    const mapped = mapProviderError(new ModelRefusalError('No. sk-abcdefghijklmnop'));
    expect(mapped.details).toEqual({ reason: 'model_refusal', refusal: 'No. [REDACTED]' });
    expect(mapped.retryable).toBe(false);
  });
});
