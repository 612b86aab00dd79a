import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/errors.ts';
import { ModelCallError, type ModelCallRequest, type ModelCallResult, type ModelGateway } from '../../src/providers/callTypes.ts';
import { ProviderRegistry } from '../../src/providers/providerRegistry.ts';
import type { Usage } from '../../src/schemas/bundle.ts';

/*
 * The router's own arithmetic over a fallback chain, with each provider's
 * client replaced by a gateway that answers or fails as told (the clients
 * themselves are driven over HTTP in test/e2e/providers.test.ts).
 */

const usage = (input: number, output: number): Usage => ({ input_tokens: input, output_tokens: output, total_tokens: input + output });

/** A provider whose every call fails at the provider's fault after spending `spent` (a handoff conversation's answered turns). */
function failing(name: string, spent: { usage: Usage; cost_usd: number } | undefined): ModelGateway {
  return gateway(name, async (request) => {
    throw new ModelCallError(new ServiceError('provider_error', `${name} is down`), 2, 5, { provider: name, model: request.model, spent });
  });
}

function answering(name: string, spent: Usage, cost: number): ModelGateway {
  return gateway(name, async (request) => ({ output: 'ok', usage: spent, cost_usd: cost, provider: name, model: request.model, attempts: 1, latency_ms: 3, chargedByTurn: true }));
}

function gateway(provider: string, call: (request: ModelCallRequest) => Promise<ModelCallResult>): ModelGateway {
  return {
    provider,
    call,
    embed: () => Promise.reject(new Error('not used')),
    costOf: () => 0,
    breakerStates: () => ({}),
    close: async () => {},
  };
}

function registry(...clients: ModelGateway[]): ProviderRegistry {
  return new ProviderRegistry(
    clients.map((client) => ({ name: client.provider, client, base_url: 'http://127.0.0.1:1/v1', api: 'chat_completions' as const, models: ['m'] })),
    clients[0]?.provider ?? '',
  );
}

const call = (fallbacks: string[]): ModelCallRequest => ({
  model: 'p1/m',
  fallbackModels: fallbacks,
  input: 'x',
  signal: new AbortController().signal,
  trace: { trace_id: '0'.repeat(32), parent_span_id: null, flags: '01', request_id: 'req_1' },
});

describe('fallbacks over providers', () => {
  it("a call that moves on after spending reports that spend with the answering model's", async () => {
    const models = registry(failing('p1', { usage: usage(30, 10), cost_usd: 0.25 }), answering('p2', usage(20, 5), 0.5));
    const result = await models.call(call(['p2/m']));
    expect(result).toMatchObject({ provider: 'p2', model: 'm', usage: usage(50, 15), cost_usd: 0.75, attempts: 3, chargedByTurn: true });
    expect(result.fallbacks).toEqual([{ provider: 'p1', model: 'm', reason: 'provider_error' }]);
  });

  it('a call that fails on every model reports what all of them spent', async () => {
    const models = registry(failing('p1', { usage: usage(30, 10), cost_usd: 0.25 }), failing('p2', undefined), failing('p3', { usage: usage(4, 1), cost_usd: 0.01 }));
    const failure = await models.call(call(['p2/m', 'p3/m'])).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ModelCallError);
    expect((failure as ModelCallError).spent).toEqual({ usage: usage(34, 11), cost_usd: 0.26 });
    expect((failure as ModelCallError).fallbacks.map((f) => f.provider)).toEqual(['p1', 'p2']);
  });

  it('spends nothing extra when nothing was spent before the answer', async () => {
    const models = registry(failing('p1', undefined), answering('p2', usage(20, 5), 0.5));
    const result = await models.call(call(['p2/m']));
    expect(result.usage).toEqual(usage(20, 5));
    expect(result.cost_usd).toBe(0.5);
  });
});
