import { describe, expect, it } from 'vitest';
import { resolveInnerRequest } from '../../src/requests/resolveRequest.ts';
import type { ResolvedRequest, ToolDefinition } from '../../src/toolkit/api.ts';

const outer: ResolvedRequest = {
  input: 'the run input',
  agent: { model: 'run-model', instructions: 'outer instructions' },
  replicates: 5,
  seed: 42,
  early_stop: { quorum: 3 },
  launch: { policy: 'waves', wave_size: 2 },
  budget: { max_tokens: 1000 },
  synthesize: true,
  metric: 'textual',
  merge: 'first_valid',
  options: { lang: 'en' },
};

const tool = (defaults: ToolDefinition['defaults']): ToolDefinition => ({
  name: 'inner',
  version: '1.0.0',
  description: 'inner',
  input_schema: {},
  output_schema: {},
  tags: [],
  defaults,
  execute: async () => ({ output: null, bundle: null }),
});

describe('resolveInnerRequest', () => {
  it('runs on the inner tool defaults, keeping only the run-wide choices of the run', () => {
    const inner = resolveInnerRequest(outer, tool({ replicates: 2, agent: { instructions: 'inner instructions' } }), {}, { maxReplicates: 20 });
    expect(inner).toMatchObject({ seed: 42, budget: { max_tokens: 1000 }, options: { lang: 'en' }, input: 'the run input', replicates: 2 });
    expect(inner.agent).toEqual({ model: 'run-model', instructions: 'inner instructions' });
    expect(inner).toMatchObject({ early_stop: undefined, launch: { policy: 'all' }, synthesize: undefined, metric: 'auto', merge: 'vote' });
  });

  it('refuses more replicates than MAX_REPLICATES, as for a run', () => {
    expect(() => resolveInnerRequest(outer, tool({}), { replicates: 21 }, { maxReplicates: 20 })).toThrow(/MAX_REPLICATES/);
  });

  it('refuses an early-stop quorum the step asks for above its replicates, and lowers a default one', () => {
    expect(() => resolveInnerRequest(outer, tool({}), { replicates: 2, early_stop: { quorum: 3 } }, { maxReplicates: 20 })).toThrow(/quorum/);
    const defaults = { replicates: 2, early_stop: { quorum: 4 } };
    expect(resolveInnerRequest(outer, tool(defaults), {}, { maxReplicates: 20 }).early_stop).toEqual({ quorum: 2 });
    expect(defaults.early_stop.quorum).toBe(4);
  });
});
