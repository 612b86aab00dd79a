import { describe, expect, it } from 'vitest';
import { postJson, withService } from '../helpers/service.ts';

describe('cost ceilings set by the operator', () => {
  it('refuses up front a budget above MAX_TOKENS_PER_RUN, and a run whose prompts alone would pass it', async () => {
    await withService({ env: { MAX_TOKENS_PER_RUN: '100000' } }, async (svc) => {
      const url = `${svc.url}/v1/runs`;
      const above = await postJson(url, { input: 'hi', replicates: 1, budget: { max_tokens: 300_000 } });
      expect(above.status).toBe(400);
      expect(above.body.error).toMatchObject({ code: 'invalid_request', retryable: false });
      expect(above.body.error.message).toContain('MAX_TOKENS_PER_RUN');
      // 20 replicates of a 60,000-character prompt need at least 20 × 10,000 tokens.
      const huge = await postJson(url, { input: 'word '.repeat(12_000), replicates: 20 });
      expect(huge.status).toBe(400);
      expect(huge.body.error.message).toContain('MAX_TOKENS_PER_RUN');
      expect(svc.sim.stats().received).toBe(0);
      // Within the ceiling, a run without a budget gets the ceiling as its limit.
      const ok = await postJson(url, { input: 'hi', replicates: 2 });
      expect(ok.status).toBe(200);
      expect(ok.body.budget.limits.max_tokens).toBe(100_000);
    });
  });

  it('gives a run without a budget DEFAULT_MAX_TOKENS_PER_RUN', async () => {
    await withService({ env: { DEFAULT_MAX_TOKENS_PER_RUN: '5000' } }, async (svc) => {
      const ok = await postJson(`${svc.url}/v1/runs`, { input: 'hi', replicates: 1 });
      expect(ok.body.budget.limits.max_tokens).toBe(5000);
    });
  });

  it('reserves tokens before each call: concurrent calls cannot overshoot the budget', async () => {
    await withService({ behavior: { answers: { kind: 'fixed', value: 'short answer' } } }, async (svc) => {
      // ~60,000 tokens per prompt (the simulator counts chars/4), 20 replicates, a 100,000-token budget:
      // without reservations all 20 calls went out at once carrying ~1.2M prompt tokens.
      svc.sim.configure({ latencyMs: 50 });
      const res = await postJson(`${svc.url}/v1/runs`, { input: 'abcd'.repeat(60_000), replicates: 20, budget: { max_tokens: 100_000 } });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('budget_exceeded');
      expect(svc.sim.stats().maxInFlight).toBe(1);
      // The first call spent 60,000; a second could not fit what was left, so it was never sent.
      expect(svc.sim.stats().received).toBe(1);
      expect(res.body.usage.total_tokens).toBeLessThan(100_000);
      expect(res.body.error.message).toMatch(/token budget exceeded/);
    });
  });

  it('lets small calls run concurrently under a roomy budget', async () => {
    await withService({}, async (svc) => {
      svc.sim.configure({ latencyMs: 50 });
      const res = await postJson(`${svc.url}/v1/runs`, { input: 'short question', replicates: 5, budget: { max_tokens: 100_000 } });
      expect(res.body.status).toBe('succeeded');
      expect(svc.sim.stats().maxInFlight).toBe(5);
    });
  });

  it('refuses a cost budget on a model with no known price, and any run on one under MAX_COST_USD_PER_RUN', async () => {
    await withService({}, async (svc) => {
      const url = `${svc.url}/v1/runs`;
      const unpriced = await postJson(url, { input: 'hi', replicates: 1, agent: { model: 'local-llama' }, budget: { max_cost_usd: 1 } });
      expect(unpriced.status).toBe(400);
      expect(unpriced.body.error.message).toMatch(/no known price/);
      expect((await postJson(url, { input: 'hi', replicates: 1, agent: { model: 'local-llama' } })).status).toBe(200);
    });
    await withService({ env: { MAX_COST_USD_PER_RUN: '0.5' } }, async (svc) => {
      const url = `${svc.url}/v1/runs`;
      const unpriced = await postJson(url, { input: 'hi', replicates: 1, agent: { model: 'local-llama' } });
      expect(unpriced.status).toBe(400);
      expect(unpriced.body.error.message).toContain('MAX_COST_USD_PER_RUN');
      const above = await postJson(url, { input: 'hi', replicates: 1, budget: { max_cost_usd: 2 } });
      expect(above.status).toBe(400);
      expect(above.body.error.message).toContain('MAX_COST_USD_PER_RUN');
      const priced = await postJson(url, { input: 'hi', replicates: 1, agent: { model: 'gpt-4o-mini' } });
      expect(priced.status).toBe(200);
      expect(priced.body.budget.limits.max_cost_usd).toBe(0.5);
    });
  });
});
