import { z } from 'zod';
import { ServiceError } from '../errors.ts';
import type { HandoffPlan } from '../providers/handoffRun.ts';

/** Sub-agents one handoff tool may declare. */
export const MAX_HANDOFF_AGENTS = 16;

/** Model calls a replicate of a handoff tool may make when the configuration says nothing (HANDOFFS_MAX_TURNS). */
export const DEFAULT_HANDOFFS_MAX_TURNS = 6;

const AgentName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'lowercase letters, digits and _ (starting with a letter)');

/** One sub-agent of a declarative tool. */
const SubAgent = z.strictObject({
  name: AgentName,
  /** What the agents that may hand to it are told about it. */
  description: z.string().min(1).optional(),
  instructions: z.string().min(1),
  /** Agents it may hand the task to: other sub-agents, or the tool's own name (the entry agent). */
  handoffs: z.array(z.string().min(1).max(64)).max(MAX_HANDOFF_AGENTS).default([]),
});

/** The fields an `agent` tool adds to declare sub-agents (docs/handoffs.md). */
export const HandoffFields = {
  /** The tool's own opt-in: without it, declaring `agents` is a load error. */
  handoffs: z.boolean().optional(),
  agents: z.array(SubAgent).min(1).max(MAX_HANDOFF_AGENTS).optional(),
  /** Model calls one replicate may make across all agents; at most HANDOFFS_MAX_TURNS (its default). */
  max_turns: z.number().int().min(2).optional(),
};

/** Whether handoffs run on this deployment, and how many turns they may take (HANDOFFS, HANDOFFS_MAX_TURNS). */
export interface HandoffOptions {
  enabled: boolean;
  maxTurns: number;
}

type Declared = { name: string; instructions: string; handoffs?: boolean | undefined; agents?: z.infer<typeof SubAgent>[] | undefined; max_turns?: number | undefined };

/**
 * The agents of a declarative `agent` tool, checked: `handoffs: true` and
 * `agents` come together, names are unique, every handoff names a declared
 * agent (or the tool itself, the entry agent), `max_turns` fits
 * HANDOFFS_MAX_TURNS. Null for a tool without handoffs.
 *
 * @throws Error naming the file and the field.
 */
export function handoffPlanOf(spec: Declared, source: string, options: HandoffOptions): HandoffPlan | null {
  const fail = (message: string) => new Error(`${source}: invalid tool definition: ${message}`);
  if (spec.handoffs !== true) {
    if (spec.agents !== undefined) throw fail('agents: sub-agents hand the task to one another only in a tool that sets `handoffs: true`');
    if (spec.max_turns !== undefined) throw fail('max_turns: applies only to a tool with `handoffs: true`');
    return null;
  }
  if (!spec.agents) throw fail('agents: a tool with `handoffs: true` declares the sub-agents it hands the task to');
  const names = new Set<string>([spec.name]);
  for (const agent of spec.agents) {
    if (names.has(agent.name)) throw fail(`agents: the name ${agent.name} is used twice (the tool's own name is its entry agent)`);
    names.add(agent.name);
  }
  for (const agent of spec.agents) {
    for (const target of agent.handoffs) {
      if (!names.has(target)) throw fail(`agents.${agent.name}.handoffs: no agent named ${target}`);
      if (target === agent.name) throw fail(`agents.${agent.name}.handoffs: an agent cannot hand the task to itself`);
    }
  }
  const maxTurns = spec.max_turns ?? options.maxTurns;
  if (maxTurns > options.maxTurns) throw fail(`max_turns: ${maxTurns} is more than this server allows (HANDOFFS_MAX_TURNS=${options.maxTurns})`);
  return {
    entry: spec.name,
    maxTurns,
    agents: [
      { name: spec.name, instructions: spec.instructions, handoffs: spec.agents.map((a) => a.name) },
      ...spec.agents.map((a) => ({ name: a.name, instructions: a.instructions, description: a.description, handoffs: a.handoffs })),
    ],
  };
}

/** The refusal of a handoff tool while HANDOFFS is off: a 400 that names the flag. */
export function handoffsDisabled(tool: string): ServiceError {
  return new ServiceError('handoffs_disabled', `tool ${tool} hands the task between agents (handoffs: true), and handoffs are off on this server; start it with HANDOFFS=on to run this tool`, {
    details: { tool, flag: 'HANDOFFS' },
  });
}
