import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { ServiceError } from '../../src/errors.ts';
import type { ToolContext } from '../../src/toolkit/api.ts';
import { parseDeclarativeTool, toToolDefinition } from '../../src/toolkit/declarative.ts';
import { declarativeOptions, loadTools } from '../../src/toolkit/loader.ts';

const ON = { handoffs: { enabled: true, maxTurns: 6 } };
const OFF = { handoffs: { enabled: false, maxTurns: 6 } };

const desk = (extra: Record<string, unknown> = {}) => ({
  name: 'desk',
  version: '1.0.0',
  description: 'A front desk.',
  instructions: 'Hand it on.',
  handoffs: true,
  agents: [
    { name: 'billing', instructions: 'Answer billing questions.' },
    { name: 'tech', instructions: 'Answer technical questions.', handoffs: ['billing', 'desk'] },
  ],
  ...extra,
});

const build = (data: unknown, options = ON) => toToolDefinition(parseDeclarativeTool(data, 'tools/desk.yaml'), 'tools/desk.yaml', options);

describe('declaring a handoff tool', () => {
  it.each([
    ['agents without handoffs: true', { ...desk(), handoffs: undefined }, /tools\/desk\.yaml: invalid tool definition: agents: .*`handoffs: true`/],
    ['handoffs: true without agents', { ...desk(), agents: undefined }, /agents: a tool with `handoffs: true` declares the sub-agents/],
    ['a handoff to an undeclared agent', desk({ agents: [{ name: 'billing', instructions: 'x', handoffs: ['refunds'] }] }), /agents\.billing\.handoffs: no agent named refunds/],
    ['a handoff to itself', desk({ agents: [{ name: 'billing', instructions: 'x', handoffs: ['billing'] }] }), /cannot hand the task to itself/],
    ['two agents of one name', desk({ agents: [{ name: 'billing', instructions: 'x' }, { name: 'billing', instructions: 'y' }] }), /the name billing is used twice/],
    ['an agent named like the tool', desk({ agents: [{ name: 'desk', instructions: 'x' }] }), /the name desk is used twice/],
    ['max_turns above HANDOFFS_MAX_TURNS', desk({ max_turns: 7 }), /max_turns: 7 is more than this server allows \(HANDOFFS_MAX_TURNS=6\)/],
    ['max_turns without handoffs', { ...desk(), handoffs: undefined, agents: undefined, max_turns: 3 }, /max_turns: applies only to a tool with `handoffs: true`/],
  ])('%s is a load error naming the file and the field', (_name, data, message) => {
    expect(() => build(data)).toThrow(message);
  });

  it('a sub-agent may hand the task back to an entry agent whose tool name has - or .', () => {
    const tool = build({ ...desk(), name: 'front-desk', agents: [{ name: 'billing', instructions: 'x', handoffs: ['front-desk'] }] });
    expect(tool.name).toBe('front-desk');
  });

  it('an unknown field of an agent is a load error too', () => {
    expect(() => build(desk({ agents: [{ name: 'billing', instructions: 'x', model: 'gpt-4o' }] }))).toThrow(/agents\.0: unknown field\(s\) model/);
  });

  it('the loader stops startup on a bad handoff tool, naming its file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'handoff-tools-'));
    try {
      writeFileSync(path.join(dir, 'desk.yaml'), 'name: desk\nversion: 1.0.0\ndescription: d\ninstructions: i\nagents:\n  - name: billing\n    instructions: x\n');
      await expect(loadTools(dir, ON)).rejects.toThrow(/desk\.yaml: invalid tool definition: agents: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the HANDOFFS flag', () => {
  it('is off by default; HANDOFFS=on turns it on; HANDOFFS_MAX_TURNS defaults to 6 and is bounded', () => {
    expect(declarativeOptions(loadConfig({})).handoffs).toEqual({ enabled: false, maxTurns: 6 });
    expect(declarativeOptions(loadConfig({ HANDOFFS: 'on', HANDOFFS_MAX_TURNS: '3' })).handoffs).toEqual({ enabled: true, maxTurns: 3 });
    expect(loadConfig({ HANDOFFS: 'off' }).HANDOFFS).toBe(false);
    expect(() => loadConfig({ HANDOFFS: 'maybe' })).toThrow(ConfigError);
    expect(() => loadConfig({ HANDOFFS_MAX_TURNS: '1' })).toThrow(/HANDOFFS_MAX_TURNS/);
    expect(() => loadConfig({ HANDOFFS_MAX_TURNS: '65' })).toThrow(/HANDOFFS_MAX_TURNS/);
  });

  it('off: the tool loads, is refused before a run with 400 handoffs_disabled naming the flag, and never runs without its agents', async () => {
    const tool = build(desk(), OFF);
    let refusal: unknown;
    try {
      tool.admit?.();
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ServiceError);
    expect(refusal).toMatchObject({ code: 'handoffs_disabled', status: 400, retryable: false, details: { tool: 'desk', flag: 'HANDOFFS' } });
    expect((refusal as Error).message).toContain('HANDOFFS=on');
    // Reached anyway (an inner step of a composite): it fails, and no replicate is run.
    const replicate = (): never => {
      throw new Error('must not run');
    };
    expect(() => tool.execute({ replicate } as unknown as ToolContext)).toThrow(/HANDOFFS=on/);
  });

  it('on: the tool is admitted and each replicate gets the plan of its agents', async () => {
    const tool = build(desk({ max_turns: 4 }), ON);
    expect(tool.admit).toBeUndefined();
    let overrides: unknown;
    const context = (agent: Record<string, unknown>) =>
      ({ request: { agent }, replicate: async (o: unknown) => ((overrides = o), { output: null, bundle: null }) }) as unknown as ToolContext;
    await tool.execute(context({ model: 'm', instructions: 'Hand it on.' }));
    expect(overrides).toEqual({
      handoffs: {
        entry: 'desk',
        maxTurns: 4,
        agents: [
          { name: 'desk', instructions: 'Hand it on.', handoffs: ['billing', 'tech'] },
          { name: 'billing', instructions: 'Answer billing questions.', description: undefined, handoffs: [] },
          { name: 'tech', instructions: 'Answer technical questions.', description: undefined, handoffs: ['billing', 'desk'] },
        ],
      },
    });
    // A request's agent.instructions replace the entry agent's, and only its.
    await tool.execute(context({ model: 'm', instructions: 'Route carefully.' }));
    const agents = (overrides as { handoffs: { agents: Array<{ name: string; instructions: string }> } }).handoffs.agents;
    expect(agents.map((a) => [a.name, a.instructions])).toEqual([
      ['desk', 'Route carefully.'],
      ['billing', 'Answer billing questions.'],
      ['tech', 'Answer technical questions.'],
    ]);
  });

  it('a tool without handoffs is unaffected by the flag', () => {
    const plain = { name: 'plain', version: '1.0.0', description: 'd', instructions: 'i' };
    expect(build(plain, OFF).admit).toBeUndefined();
  });
});
