import type { ErrorBody } from '../errors.ts';
import type { Bundle } from '../schemas/bundle.ts';
import type { ToolContext, ToolOutcome } from './api.ts';
import { parseMemoryRef, readMemoryRefs, type MemoryRef } from './stepTemplate.ts';

/** What the run's memory holds for one composite step (`step.<label>`): its tool's result and bundle. */
export interface StepMemory {
  tool: string;
  step: string;
  status: 'succeeded' | 'failed';
  output: unknown;
  /** The step's own bundle (its nested steps have their own entries); replicates dropped, or the whole bundle, when `trimmed`. */
  bundle: Omit<Bundle, 'steps'> | null;
  error: ErrorBody | null;
  /** Set when the whole result was over MEMORY_MAX_BYTES and a smaller form was stored. */
  trimmed?: true;
}

/**
 * Writes a finished composite step's result (any `ctx.runTool` call: pipeline
 * steps, fan-out branches, TypeScript composites) to the run's memory under
 * `step.<label>` of the calling tool, for later steps,
 * the synthesizer and other tools of the run. Over the byte bound it is
 * stored without the bundle's replicates, then without the bundle; if even
 * that does not fit, it is left out (a warning in the run's log; a later
 * step that reads it fails naming the bound).
 */
export async function rememberStep(ctx: ToolContext, label: string, tool: string, outcome: ToolOutcome): Promise<void> {
  const own = outcome.bundle ? withoutSteps(outcome.bundle) : null;
  const entry: StepMemory = { tool, step: label, status: outcome.error ? 'failed' : 'succeeded', output: outcome.output ?? null, bundle: own, error: outcome.error?.toJSON() ?? null };
  const trimmed: StepMemory[] = [
    ...(own ? [{ ...entry, bundle: { ...own, replicates: [] }, trimmed: true as const }] : []),
    { ...entry, bundle: null, trimmed: true as const },
  ];
  try {
    await ctx.memory.set(ctx.memory.stepKey(label), entry, { trimmed });
  } catch (error) {
    ctx.log.warn({ err: error, step: label }, 'step result not kept in the run memory');
  }
}

function withoutSteps(bundle: Bundle): Omit<Bundle, 'steps'> {
  const { steps: _nested, ...own } = bundle;
  return own;
}

/** Load-time check of a pipeline's `keep_memory`: references of the template grammar, steps that exist. */
export function checkKeepRefs(refs: readonly string[], steps: number): void {
  for (const text of refs) {
    const ref = parseMemoryRef(text);
    if (ref.root === 'step' && (ref.step === 'previous' || (ref.step as number) < 1 || (ref.step as number) > steps)) {
      throw new Error(`keep_memory: "${text}": name a step by its number, 1 to ${steps}`);
    }
  }
}

/**
 * Keeps `refs` (e.g. `step.1.output`, `planner.reason`) in the run's result
 * as `memory.summary`, by reference; a reference the memory cannot answer
 * is kept as null and logged. Never fails the run.
 */
export async function keepSummary(ctx: ToolContext, refs: readonly string[], stepKey: (n: number) => string): Promise<void> {
  const summary: Record<string, unknown> = {};
  for (const text of refs) {
    const ref: MemoryRef = parseMemoryRef(text);
    try {
      const values = await readMemoryRefs([ref], ctx.memory, stepKey, 0, 'keep_memory');
      summary[text] = values.get(text) ?? null;
    } catch (error) {
      ctx.log.warn({ err: error, ref: text }, 'keep_memory: reference not kept');
      summary[text] = null;
    }
  }
  try {
    ctx.memory.keep(summary);
  } catch (error) {
    ctx.log.warn({ err: error }, 'keep_memory: summary not kept');
  }
}
