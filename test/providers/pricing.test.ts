import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { PricingTable } from '../../src/providers/pricing.ts';
import { postJson, withService } from '../helpers/service.ts';

const usage = { input_tokens: 1000, output_tokens: 500, total_tokens: 1500 };

describe('PRICING_JSON', () => {
  it('is parsed and checked once, in config, into the overrides the pricing table takes', () => {
    const config = loadConfig({ PRICING_JSON: ' {"my-model": {"input": 1, "output": 2}, "gpt-4o": {"input": 0, "output": 0}} ' });
    expect(config.PRICING_JSON).toEqual({ 'my-model': { input: 1, output: 2 }, 'gpt-4o': { input: 0, output: 0 } });
    const table = new PricingTable(config.PRICING_JSON);
    expect(table.cost('my-model', usage)).toBe(0.002);
    expect(table.cost('gpt-4o', usage)).toBe(0);
    // Models it does not name keep their list price.
    expect(table.priceOf('gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6 });
    expect(loadConfig({}).PRICING_JSON).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"my-model": ', 'PRICING_JSON: not valid JSON'],
    ['not an object', '[1, 2]', 'PRICING_JSON: expected {"model"'],
    ['a negative price', '{"m": {"input": -1, "output": 2}}', 'PRICING_JSON.m.input'],
    ['a missing price', '{"m": {"input": 1}}', 'PRICING_JSON.m.output'],
  ])('refuses %s at boot with a ConfigError naming the entry', (_what, value, issue) => {
    let error: unknown;
    try {
      loadConfig({ PRICING_JSON: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.join('\n')).toContain(issue);
  });

  it('prices a run with the overrides', async () => {
    const env = { PRICING_JSON: '{"priced-model": {"input": 100000, "output": 200000}}' };
    await withService({ env, behavior: { usage: { inputTokens: 10, outputTokens: 5 } } }, async (svc) => {
      const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'what does it cost', replicates: 1, agent: { model: 'priced-model' } });
      expect(body.status).toBe('succeeded');
      // (10 * 100000 + 5 * 200000) / 1e6 = 2 USD for the one call.
      expect(body.cost_usd).toBe(2);
    });
  });
});
