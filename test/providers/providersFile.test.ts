import { describe, expect, it } from 'vitest';
import { capabilitiesFor, globMatches, planCall } from '../../src/providers/capabilities.ts';
import { parseModelRef } from '../../src/providers/modelRef.ts';
import { parseProvidersFile, ProvidersFileError } from '../../src/providers/providersFile.ts';

const FILE = `
default: local
providers:
  - name: openai
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
    pricing: { gpt-4o-mini: { input: 0.15, output: 0.6 } }
  - name: local
    base_url: http://127.0.0.1:8000/v1
    models: [llama3]
    capabilities:
      "llama*": { json_schema: false }
`;

describe('providers file', () => {
  it('reads named providers, keys from the environment and the default', () => {
    const set = parseProvidersFile(FILE, 'providers.yaml', { OPENAI_API_KEY: 'sk-test' });
    expect(set.defaultProvider).toBe('local');
    expect(set.providers.map((p) => [p.name, p.api, p.apiKey])).toEqual([
      ['openai', 'chat_completions', 'sk-test'],
      ['local', 'chat_completions', undefined],
    ]);
  });

  it('names the file and every bad field', () => {
    const bad = `providers:\n  - name: Bad Name\n    base_url: ftp://x\n    colour: red\n  - name: ok\n    base_url: http://127.0.0.1/v1\ndefault: nope\n`;
    let error: unknown;
    try {
      parseProvidersFile(bad, 'p.yaml', {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProvidersFileError);
    expect((error as { code?: string }).code).toBe('config_invalid');
    const message = (error as Error).message;
    expect(message).toContain('p.yaml');
    expect(message).toContain('providers.0.name');
    expect(message).toContain('providers.0.base_url');
    expect(message).toContain('providers.0: unknown field(s) colour');
    expect(message).toContain('default: names no declared provider');
  });

  it('refuses a key variable that is not set, naming it', () => {
    expect(() => parseProvidersFile(FILE, 'providers.yaml', {})).toThrow(/providers\.0\.api_key_env: OPENAI_API_KEY is not set/);
  });

  it('refuses duplicate provider names', () => {
    const dup = `providers:\n  - { name: a, base_url: "http://127.0.0.1/v1" }\n  - { name: a, base_url: "http://127.0.0.1/v1" }\n`;
    expect(() => parseProvidersFile(dup, 'd.yaml', {})).toThrow(/declared twice/);
  });
});

describe('model references', () => {
  const providers = new Set(['p1', 'p2']);
  it('splits provider/model when the provider is configured', () => {
    expect(parseModelRef('p1/m1', providers, 'p2')).toEqual({ provider: 'p1', model: 'm1' });
  });
  it('sends bare names and slashed model names of unknown prefixes to the default provider', () => {
    expect(parseModelRef('gpt-4o-mini', providers, 'p2')).toEqual({ provider: 'p2', model: 'gpt-4o-mini' });
    expect(parseModelRef('meta-llama/Llama-3.1-8B', providers, 'p2')).toEqual({ provider: 'p2', model: 'meta-llama/Llama-3.1-8B' });
  });
});

describe('capabilities', () => {
  it('matches globs anchored at both ends', () => {
    expect(globMatches('o1*', 'o1-mini')).toBe(true);
    expect(globMatches('o1*', 'gpt-o1')).toBe(false);
    expect(globMatches('*-mini', 'gpt-4o-mini')).toBe(true);
    expect(globMatches('a*b*c', 'abc')).toBe(true);
    expect(globMatches('a*b*c', 'acb')).toBe(false);
    expect(globMatches('exact', 'exact')).toBe(true);
  });

  it('takes family defaults, then the file’s entries in order', () => {
    expect(capabilitiesFor('o3-mini')).toEqual({ seed: true, temperature: false, json_schema: true, json_object: true });
    expect(capabilitiesFor('llama3', { 'llama*': { json_schema: false }, llama3: { seed: false } })).toEqual({ seed: false, temperature: true, json_schema: false, json_object: true });
    expect(capabilitiesFor('o3-mini', { '*': { temperature: true } }).temperature).toBe(true);
  });

  it('leaves out what a model refuses and says so', () => {
    const plan = planCall({ seed: 7, temperature: 0.5, structured: true, api: 'chat_completions' }, { seed: false, temperature: false, json_schema: false, json_object: true });
    expect(plan.seed).toBeUndefined();
    expect(plan.temperature).toBeUndefined();
    expect(plan.structure).toBe('json_object');
    expect(plan.warnings).toHaveLength(3);
    const full = planCall({ seed: 7, temperature: 0.5, structured: true, api: 'chat_completions' }, { seed: true, temperature: true, json_schema: true, json_object: true });
    expect(full).toEqual({ seed: 7, temperature: 0.5, structure: 'json_schema', warnings: [] });
    expect(planCall({ structured: true, api: 'chat_completions' }, { seed: true, temperature: true, json_schema: false, json_object: false }).structure).toBe('prompt');
  });
});
