import { z } from 'zod';
import { mergeOutputs, summarize } from '../bundle/index.ts';
import { ServiceError, StartupError } from '../errors.ts';
import type { Bundle, Replicate, StepBundle } from '../schemas/bundle.ts';
import { inputText } from '../schemas/inputText.ts';
import { AgentSpecSchema, BudgetLimitsSchema, EarlyStopSchema, LaunchSchema, MAX_DURATION_MS, SynthesizeSchema } from '../schemas/request.ts';
import type { ResolvedRequest, ToolContext, ToolDefaults, ToolDefinition, ToolOutcome } from './api.ts';
import { DEFAULT_HANDOFFS_MAX_TURNS, HandoffFields, handoffPlanOf, handoffsDisabled, type HandoffOptions } from './handoffTool.ts';
import { checkKeepRefs, keepSummary } from './stepMemory.ts';
import { asText, checkMemoryRefs, fillTemplate, readMemoryRefs, templateMemoryRefs } from './stepTemplate.ts';

export { fillTemplate } from './stepTemplate.ts';

const Name = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'lowercase letters, digits, _ . - (starting with a letter)');
const Semver = z.string().regex(/^\d+\.\d+\.\d+(?:-[\w.]+)?(?:\+[\w.]+)?$/, 'a semver version such as 1.0.0');

const Defaults = z.strictObject({
  replicates: z.number().int().min(1).optional(),
  early_stop: EarlyStopSchema.optional(),
  budget: BudgetLimitsSchema.optional(),
  launch: LaunchSchema.optional(),
  synthesize: SynthesizeSchema.optional(),
  metric: z.enum(['auto', 'structural', 'textual', 'semantic']).optional(),
  merge: z.enum(['vote', 'first_valid']).optional(),
  timeout_ms: z.number().int().positive().max(MAX_DURATION_MS).optional(),
});

/** A declarative tool's defaults are tool defaults (ToolDefaults, src/toolkit/api.ts): checked here at compile time. */
const _defaultsAreToolDefaults = (d: z.infer<typeof Defaults>): ToolDefaults => d;

const Common = {
  name: Name,
  version: Semver,
  description: z.string().min(1),
  tags: z.array(z.string().min(1)).default([]),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  defaults: Defaults.optional(),
};

/** A step of a pipeline: a tool by name (and range); its input is the previous step's output unless `input` says otherwise. */
const Step = z.strictObject({
  tool: Name,
  version: z.string().min(1).optional(),
  /** Template with `{{input}}` (the run's input), `{{previous}}` (the last step's output as text) and `{{memory.…}}` (the run's memory: docs/memory.md). */
  input: z.string().min(1).optional(),
  agent: AgentSpecSchema.optional(),
  replicates: z.number().int().min(1).optional(),
});

/** The file formats of declarative tools, discriminated by `kind` (default `agent`). */
export const DeclarativeToolSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    ...Common,
    kind: z.literal('agent'),
    instructions: z.string().min(1),
    model: z.string().min(1).optional(),
    output_schema: z.record(z.string(), z.unknown()).optional(),
    temperature: z.number().min(0).max(2).optional(),
    ...HandoffFields,
  }),
  z.strictObject({
    ...Common,
    kind: z.literal('pipeline'),
    steps: z.array(Step).min(1),
    output_schema: z.record(z.string(), z.unknown()).optional(),
    /** Memory references (`step.1.output`, `planner.reason`…) kept in the run's result as `memory.summary` (docs/memory.md). */
    keep_memory: z.array(z.string().min(1)).min(1).max(32).optional(),
  }),
  z.strictObject({
    ...Common,
    kind: z.literal('fanout'),
    tools: z.array(Step).min(2),
    /** `object`: {tool: output}; `vote`: one consensus over every branch's replicates. */
    combine: z.enum(['object', 'vote']).default('object'),
    output_schema: z.record(z.string(), z.unknown()).optional(),
  }),
]);

export type DeclarativeTool = z.infer<typeof DeclarativeToolSchema>;

/** Parses one declarative file's data; the error names the file and each bad field. */
export function parseDeclarativeTool(data: unknown, file: string): DeclarativeTool {
  const withKind = data !== null && typeof data === 'object' && !Array.isArray(data) && !('kind' in data) ? { ...data, kind: 'agent' } : data;
  const parsed = DeclarativeToolSchema.safeParse(withKind);
  if (parsed.success) {
    try {
      checkTemplates(parsed.data);
    } catch (error) {
      throw new Error(`${file}: invalid tool definition: ${(error as Error).message}`, { cause: error });
    }
    return parsed.data;
  }
  const problems = parsed.error.issues.map((i) => {
    const field = i.path.length > 0 ? i.path.join('.') : '(root)';
    return i.code === 'unrecognized_keys' ? `${field}: unknown field(s) ${i.keys.join(', ')}` : `${field}: ${i.message}`;
  });
  throw new StartupError('tool_invalid', `${file}: invalid tool definition: ${problems.join('; ')}`);
}

/** Memory references of step templates (and `keep_memory`) must name what exists when the step runs. */
function checkTemplates(spec: DeclarativeTool): void {
  if (spec.kind === 'agent') return;
  const steps = spec.kind === 'pipeline' ? spec.steps : spec.tools;
  for (const [i, step] of steps.entries()) {
    if (!step.input) continue;
    const where = spec.kind === 'pipeline' ? `steps.${i}.input` : `tools.${i}.input`;
    checkMemoryRefs(templateMemoryRefs(step.input), spec.kind === 'pipeline' ? i + 1 : null, where);
  }
  if (spec.kind === 'pipeline' && spec.keep_memory) checkKeepRefs(spec.keep_memory, spec.steps.length);
}

const TEXT_INPUT = { type: 'object', required: ['input'], properties: { input: { type: ['string', 'array'] } } };

/** Bytes a step template may build, by default (config MAX_PROMPT_BYTES). */
export const DEFAULT_MAX_PROMPT_BYTES = 1_048_576;

/** How declarative tools are built. */
export interface DeclarativeOptions {
  /** UTF-8 bytes of a prompt a step template builds; past it the step fails (MAX_PROMPT_BYTES). */
  maxPromptBytes?: number;
  /** Whether tools with `handoffs: true` may run (HANDOFFS), and their turn bound (HANDOFFS_MAX_TURNS). Default: off. */
  handoffs?: HandoffOptions;
}

/** Turns a parsed declarative file into a registered tool. */
export function toToolDefinition(spec: DeclarativeTool, source: string, options: DeclarativeOptions = {}): ToolDefinition {
  const maxPromptBytes = options.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES;
  const base = {
    name: spec.name,
    version: spec.version,
    description: spec.description,
    tags: spec.tags,
    input_schema: spec.input_schema ?? TEXT_INPUT,
    source,
  };
  if (spec.kind === 'agent') {
    const handoffs = options.handoffs ?? { enabled: false, maxTurns: DEFAULT_HANDOFFS_MAX_TURNS };
    const plan = handoffPlanOf(spec, source, handoffs);
    // No fallback: with HANDOFFS off a handoff tool is refused before a run exists, and never runs without its agents.
    const gate = plan && !handoffs.enabled ? { admit: () => { throw handoffsDisabled(spec.name); } } : {};
    return {
      ...gate,
      ...base,
      output_schema: spec.output_schema ?? { type: 'string' },
      defaults: {
        ...spec.defaults,
        agent: {
          instructions: spec.instructions,
          ...(spec.model !== undefined ? { model: spec.model } : {}),
          ...(spec.output_schema !== undefined ? { output_schema: spec.output_schema } : {}),
          ...(spec.temperature !== undefined ? { temperature: spec.temperature } : {}),
        },
      },
      execute: (ctx) => {
        if (!plan) return ctx.replicate();
        if (!handoffs.enabled) throw handoffsDisabled(spec.name);
        // The request's agent.instructions replace the entry agent's, as they replace any agent tool's.
        const instructions = ctx.request.agent.instructions ?? spec.instructions;
        return ctx.replicate({ handoffs: { ...plan, agents: plan.agents.map((a) => (a.name === plan.entry ? { ...a, instructions } : a)) } });
      },
    };
  }
  const dependencies = Object.fromEntries((spec.kind === 'pipeline' ? spec.steps : spec.tools).map((s) => [s.tool, s.version ?? '*']));
  if (spec.kind === 'pipeline') {
    return {
      ...base,
      output_schema: spec.output_schema ?? { description: 'the last step’s output' },
      ...(spec.defaults ? { defaults: spec.defaults } : {}),
      dependencies,
      execute: async (ctx) => {
        const outcome = await runPipeline(ctx, spec.steps, maxPromptBytes);
        if (spec.keep_memory) await keepSummary(ctx, spec.keep_memory, (n) => ctx.memory.stepKey(stepLabel(n, spec.steps)));
        return outcome;
      },
    };
  }
  return {
    ...base,
    output_schema: spec.output_schema ?? { type: 'object', description: 'each branch’s output by tool name, or their consensus' },
    ...(spec.defaults ? { defaults: spec.defaults } : {}),
    dependencies,
    execute: (ctx) => runFanout(ctx, spec.tools, spec.combine, maxPromptBytes),
  };
}

type StepSpec = z.infer<typeof Step>;

/** A composite's step label (as in `bundle.steps[].step` and `replicate.step`): position and tool. */
function stepLabel(n: number, steps: readonly StepSpec[]): string {
  return `${n}:${(steps[n - 1] as StepSpec).tool}`;
}

/** A step's request; `position` (1-based) and `steps` place it in its pipeline (for `{{memory.step.N}}`), null for fan-out branches. */
async function stepRequest(
  ctx: ToolContext,
  step: StepSpec,
  previous: unknown,
  maxPromptBytes: number,
  where: string,
  place: { position: number; steps: readonly StepSpec[] } | null = null,
): Promise<Partial<ResolvedRequest>> {
  const original = inputText(ctx.request.input);
  const previousText = previous === undefined ? '' : asText(previous);
  const refs = step.input ? templateMemoryRefs(step.input) : [];
  const remembered = refs.length === 0 ? undefined : await readMemoryRefs(refs, ctx.memory, (n) => ctx.memory.stepKey(stepLabel(n, place?.steps ?? [])), place?.position ?? 0, where);
  const memory = remembered ? new Map([...remembered].map(([ref, value]) => [ref, asText(value)])) : undefined;
  const input = step.input
    ? fillTemplate(step.input, { input: original, previous: previousText, ...(memory ? { memory } : {}) }, maxPromptBytes, where)
    : previous === undefined
      ? ctx.request.input
      : previousText;
  if (typeof input === 'string' && !step.input && Buffer.byteLength(input) > maxPromptBytes) {
    throw new ServiceError('invalid_request', `${where}: its input would be ${Buffer.byteLength(input)} bytes, more than ${maxPromptBytes} (MAX_PROMPT_BYTES)`);
  }
  // Inner tools bring their own agent (instructions, schema, model); the outer request's agent does not leak in.
  return { input, agent: { ...step.agent } as ResolvedRequest['agent'], ...(step.replicates !== undefined ? { replicates: step.replicates } : {}) };
}

/** A step's bundle, its replicates labelled with the step. */
function stepBundle(step: string, tool: string, bundle: Bundle): StepBundle {
  const { steps: _nested, ...own } = bundle;
  return { step, tool, ...own, replicates: own.replicates.map((r) => ({ ...r, step })) };
}

/** The composite's bundle: `main`'s view, with every step's own bundle kept under `steps`. */
function withSteps(main: Bundle | null | undefined, steps: StepBundle[]): Bundle | null {
  if (!main) return null;
  return { ...main, steps };
}

/** Each step's output feeds the next; the run's bundle is the last step's, and every step's bundle is kept in `steps`. */
async function runPipeline(ctx: ToolContext, steps: StepSpec[], maxPromptBytes: number): Promise<ToolOutcome> {
  let previous: unknown;
  let last: ToolOutcome = { output: null, bundle: null };
  const kept: StepBundle[] = [];
  for (const [i, step] of steps.entries()) {
    const label = `${i + 1}:${step.tool}`;
    let request: Partial<ResolvedRequest>;
    try {
      request = await stepRequest(ctx, step, previous, maxPromptBytes, `pipeline step ${i + 1} (${step.tool})`, { position: i + 1, steps });
    } catch (error) {
      return { output: null, bundle: last.bundle, error: error as ServiceError };
    }
    last = await ctx.runTool(step.tool, request, { ...(step.version ? { version: step.version } : {}), step: label });
    if (last.bundle) kept.push(stepBundle(label, step.tool, last.bundle));
    const bundle = last.bundle ? withSteps({ ...last.bundle, replicates: last.bundle.replicates.map((r) => ({ ...r, step: label })) }, kept) : null;
    last = { ...last, bundle };
    if (last.error || ctx.signal.aborted) return last;
    if (last.output === null || last.output === undefined) {
      return { ...last, error: new ServiceError('provider_error', `pipeline step ${i + 1} (${step.tool}) produced no output`) };
    }
    previous = last.output;
  }
  return last;
}

/** Every branch on the same input, concurrently; outputs combined per `combine`. */
async function runFanout(ctx: ToolContext, branches: StepSpec[], combine: 'object' | 'vote', maxPromptBytes: number): Promise<ToolOutcome> {
  const labels = branches.map((b, i) => `${i + 1}:${b.tool}`);
  let requests: Partial<ResolvedRequest>[];
  try {
    requests = await Promise.all(branches.map((b, i) => stepRequest(ctx, b, undefined, maxPromptBytes, `fanout branch ${i + 1} (${b.tool})`)));
  } catch (error) {
    return { output: null, bundle: null, error: error as ServiceError };
  }
  const outcomes = await Promise.all(
    branches.map((b, i) => ctx.runTool(b.tool, requests[i] as Partial<ResolvedRequest>, { ...(b.version ? { version: b.version } : {}), step: labels[i] as string })),
  );
  const failed = outcomes.find((o) => o.error);
  const replicates: Replicate[] = [];
  const kept: StepBundle[] = [];
  // Replicates are numbered across branches; each keeps its branch in `step`, and each branch's own bundle stays in `steps`.
  for (const [i, o] of outcomes.entries()) {
    const label = labels[i] as string;
    for (const r of o.bundle?.replicates ?? []) replicates.push({ ...r, index: replicates.length, step: label });
    if (o.bundle) kept.push(stepBundle(label, (branches[i] as StepSpec).tool, o.bundle));
  }
  const summary = summarize(replicates, { merge: 'vote' });
  const bundle: Bundle = {
    replicates,
    summary,
    statistics: {
      requested: outcomes.reduce((a, o) => a + (o.bundle?.statistics.requested ?? 0), 0),
      completed: replicates.filter((r) => r.status !== 'cancelled').length,
      succeeded: replicates.filter((r) => r.status === 'succeeded').length,
      failed: replicates.filter((r) => r.status === 'failed').length,
      cancelled: replicates.filter((r) => r.status === 'cancelled').length,
    },
    early_stop: { triggered: false, reason: null },
    steps: kept,
  };
  if (combine === 'vote') {
    const merged = mergeOutputs(outcomes.map((o, index) => ({ index, output: o.output })));
    return { output: merged.consensus, bundle, error: failed?.error ?? null };
  }
  const output = Object.fromEntries(branches.map((b, i) => [b.tool, outcomes[i]?.output ?? null]));
  return { output, bundle, error: failed?.error ?? null };
}
