import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseProvidersFile } from '../../src/providers/providersFile.ts';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';

/**
 * Every example of docs/providers.md, run: each ```yaml providers=NAME
 * file is loaded with each of its base URLs served by a simulator of its
 * own (so OpenAI, vLLM, Ollama and the gateway are separate servers), and
 * its ```json request=NAME is sent to a service configured with it.
 */
const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/providers.md'), 'utf8');
const blocks = (kind: string) => new Map([...doc.matchAll(new RegExp('```\\w+ ' + kind + '=([\\w-]+)\\n([\\s\\S]*?)```', 'g'))].map((m) => [m[1] as string, m[2] as string]));
const files = blocks('providers');
const requests = blocks('request');
const KEYS = { OPENAI_API_KEY: 'sk-doc-openai', GATEWAY_API_KEY: 'sk-doc-gateway' };

const services: TestService[] = [];
const simulators: Simulator[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
  await Promise.all(simulators.splice(0).map((s) => s.close()));
});

/** The example `name` on simulators: the service, and a simulator per base URL of the file. */
async function example(name: string) {
  let yaml = files.get(name) as string;
  const sims = new Map<string, Simulator>();
  for (const [, url] of yaml.matchAll(/base_url: (\S+)/g)) {
    if (sims.has(url as string)) continue;
    const sim = await startSimulator({});
    simulators.push(sim);
    sims.set(url as string, sim);
  }
  for (const [url, sim] of sims) yaml = yaml.replaceAll(`base_url: ${url}`, `base_url: ${sim.url}`);
  const svc = await startTestService({ providersYaml: yaml, providerEnv: KEYS });
  services.push(svc);
  const simAt = (url: string) => sims.get(url) as Simulator;
  const run = async () => (await postJson(`${svc.url}/v1/runs`, JSON.parse(requests.get(name) as string))).body;
  return { svc, simAt, run };
}

const modelCalls = (sim: Simulator) => sim.requests.filter((r) => /\/(chat\/completions|responses)$/.test(r.path));

describe('docs/providers.md examples', () => {
  it('has a file and a request for each example, and every file is valid as written', () => {
    expect([...files.keys()].sort()).toEqual(['gateway', 'local', 'openai', 'panel']);
    expect([...requests.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [name, yaml] of files) expect(() => parseProvidersFile(yaml, `${name}.yaml`, KEYS), name).not.toThrow();
  });

  it('openai: the Responses API, no seed and no temperature for a reasoning model, each said on the replicate', async () => {
    const { simAt, run } = await example('openai');
    const body = await run();
    expect(body.status).toBe('succeeded');
    const calls = modelCalls(simAt('https://api.openai.com/v1'));
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      expect(c.path).toMatch(/\/responses$/);
      expect(c.body).not.toHaveProperty('temperature');
      expect(c.body).not.toHaveProperty('seed');
    }
    expect(body.bundle.replicates[0]).toMatchObject({ provider: 'openai', model: 'o4-mini' });
    expect(body.bundle.replicates[0].warnings).toEqual(['seed not sent: the Responses API takes none', 'temperature not sent: the model does not accept one']);
  });

  it('local: a bare model with slashes goes to the default vLLM; when vLLM is down, Ollama answers in JSON mode, validated', async () => {
    const { simAt, run } = await example('local');
    const vllm = simAt('http://localhost:8000/v1');
    const ollama = simAt('http://localhost:11434/v1');
    const first = await run();
    expect(first.status).toBe('succeeded');
    expect(first.bundle.replicates.every((r: { provider: string; valid: boolean }) => r.provider === 'vllm' && r.valid)).toBe(true);
    expect(modelCalls(vllm).map((r) => r.model)).toEqual(['meta-llama/Llama-3.1-8B-Instruct', 'meta-llama/Llama-3.1-8B-Instruct']);
    expect(modelCalls(ollama)).toHaveLength(0);

    vllm.configure({ faultRate: { probability: 1, status: 503 } });
    // JSON mode carries no schema to the server: the simulated model answers what the instructions ask.
    ollama.configure({ answers: { kind: 'fixed', value: { positive: true } } });
    const fallen = await run();
    expect(fallen.status).toBe('succeeded');
    for (const r of fallen.bundle.replicates) {
      expect(r).toMatchObject({ provider: 'ollama', model: 'qwen2.5:7b', valid: true, fallbacks: [{ provider: 'vllm', model: 'meta-llama/Llama-3.1-8B-Instruct', reason: 'provider_error' }] });
      expect(typeof r.output.positive).toBe('boolean');
      expect(r.warnings[0]).toMatch(/JSON mode used/);
    }
    expect(modelCalls(ollama).every((c) => (c.body as { response_format?: { type: string } }).response_format?.type === 'json_object')).toBe(true);
  });

  it('gateway: a model named with slashes on provider gw, priced (the cost budget holds), no seed where declared unsupported', async () => {
    const { simAt, run } = await example('gateway');
    const body = await run();
    expect(body.status).toBe('succeeded');
    const calls = modelCalls(simAt('https://gateway.example.com/v1'));
    expect(calls.map((c) => c.model)).toEqual(['anthropic/claude-sonnet-4', 'anthropic/claude-sonnet-4']);
    for (const c of calls) expect(c.body).not.toHaveProperty('seed');
    expect(body.cost_usd).toBeGreaterThan(0);
    expect(body.bundle.replicates[0].warnings).toEqual(['seed not sent: the model does not accept one']);
  });

  it('panel: six replicates spread over three providers, by_model for each', async () => {
    const { simAt, run } = await example('panel');
    const body = await run();
    expect(body.status).toBe('succeeded');
    const order = ['openai/gpt-4.1-mini', 'gw/anthropic/claude-sonnet-4', 'local/qwen2.5-7b-instruct'];
    expect(body.bundle.replicates.map((r: { provider: string; model: string }) => `${r.provider}/${r.model}`)).toEqual([...order, ...order]);
    expect(Object.keys(body.bundle.by_model).sort()).toEqual([...order].sort());
    for (const url of ['https://api.openai.com/v1', 'https://gateway.example.com/v1', 'http://localhost:8000/v1']) expect(modelCalls(simAt(url)).length).toBeGreaterThan(0);
  });
});
