import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { defineTool } from '../../src/toolkit/api.ts';
import { loadTools } from '../../src/toolkit/loader.ts';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';

describe('semantic distance metric (embeddings)', () => {
  let svc: TestService;
  beforeAll(async () => {
    const registry = await loadTools('tools');
    registry.register(
      defineTool({
        name: 'semantic_probe',
        version: '1.0.0',
        description: 'free text compared by embeddings',
        input_schema: {},
        output_schema: { type: 'string' },
        tags: ['test'],
        defaults: { metric: 'semantic' },
        execute: (ctx) => ctx.replicate(),
      }),
    );
    svc = await startTestService({ registry });
  });
  afterAll(async () => svc.close());

  it('the simulator serves OpenAI-shaped embeddings the openai SDK decodes', async () => {
    const client = new OpenAI({ baseURL: svc.sim.url, apiKey: 'sk-test', maxRetries: 0 });
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['the cat sat', 'the cat sat down', 'quantum field theory'] });
    expect(res.data).toHaveLength(3);
    const [a, b, c] = res.data.map((d) => d.embedding);
    const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect(dot(a!, a!)).toBeCloseTo(1, 4);
    expect(dot(a!, b!)).toBeGreaterThan(dot(a!, c!));
  });

  it('compares replicates by embeddings: paraphrases are closer than unrelated answers, and embeddings are paid for', async () => {
    svc.sim.reset();
    svc.sim.configure({
      answers: { kind: 'sequence', values: ['Paris is the capital city of France', 'The capital city of France is Paris', 'Bananas are rich in potassium'] },
    });
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'semantic_probe', input: 'Capital of France?', replicates: 3, launch: { policy: 'waves', wave_size: 1 } });
    expect(body.status).toBe('succeeded');
    const d = body.bundle.summary.pairwise_distances;
    expect(d[0][1]).toBeLessThan(d[0][2]);
    expect(d[0][1]).toBeLessThan(d[1][2]);
    expect(d[0][1]).toBeGreaterThan(0);
    const embeddingCalls = svc.sim.requests.filter((r) => r.path === '/v1/embeddings');
    expect(embeddingCalls).toHaveLength(3);
    // Embedding calls carry their own provider Idempotency-Key, one per call, like model calls.
    const keys = [...embeddingCalls, ...svc.sim.requests.filter((r) => r.path === '/v1/chat/completions')].map((r) => r.headers['idempotency-key']);
    expect(keys.every((k) => typeof k === 'string')).toBe(true);
    expect(new Set(keys).size).toBe(6);
    const line = body.cost_breakdown.find((l: any) => l.model === 'text-embedding-3-small');
    expect(line.input_tokens).toBeGreaterThan(0);
    expect(body.cost_breakdown.reduce((a: number, l: any) => a + l.cost_usd, 0)).toBeCloseTo(body.cost_usd, 9);
  });
});
