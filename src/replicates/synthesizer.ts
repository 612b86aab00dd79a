import { ServiceError } from '../errors.ts';
import { endSpan, usageAttributes } from '../observability/tracing.ts';
import { ModelCallError } from '../providers/gateway.ts';
import { emptyUsage, type Bundle } from '../schemas/bundle.ts';
import { inputText } from '../schemas/inputText.ts';
import type { ResolvedRequest } from '../toolkit/api.ts';
import type { ReplicateEnv } from './replicateEnv.ts';
import type { Span } from '@opentelemetry/api';
import type { Usage } from '../schemas/bundle.ts';

/** What the synthesizer pass ended with. */
interface SynthesisDone {
  output: unknown;
  usage: Usage;
  cost_usd: number;
  error: ServiceError | null;
}

const DEFAULT_INSTRUCTIONS =
  'You are given several independent answers to the same task and where they disagree. ' +
  'Write the single best final answer: keep what the answers agree on, resolve disagreements by the strongest evidence, and do not mention the process.';

/** Bytes of one memory entry quoted to the synthesizer; longer entries are cut (and say so). */
export const MAX_QUOTED_MEMORY_BYTES = 16_384;

/**
 * The memory entries `synthesize.memory` names, as a prompt section (empty
 * when none is asked). An entry the memory does not hold says so.
 */
async function quoteMemory(env: ReplicateEnv, keys: readonly string[]): Promise<string> {
  if (keys.length === 0 || !env.memory) return '';
  const memory = env.memory;
  const lines = await Promise.all(
    keys.map(async (key) => {
      const value = await memory.get(key);
      if (value === undefined) return `[${key}] (not in the run's memory)`;
      const text = JSON.stringify(value);
      const bytes = Buffer.from(text);
      return bytes.length <= MAX_QUOTED_MEMORY_BYTES ? `[${key}] ${text}` : `[${key}] ${bytes.subarray(0, MAX_QUOTED_MEMORY_BYTES).toString()}… (cut at ${MAX_QUOTED_MEMORY_BYTES} of ${bytes.length} bytes)`;
    }),
  );
  return `From the run's memory:\n${lines.join('\n')}`;
}

/** Most replicate outputs quoted to the synthesizer (the rest are counted, not shown). */
const MAX_QUOTED = 20;

/**
 * The synthesizer pass: one more model call that reads the replicates and
 * their disagreements and writes the final output. Charged to the run like
 * any call (so budgets apply); validated against the output schema. Its
 * answer becomes the output; when it fails or breaks the schema, the
 * consensus stays the output and `synthesis_done` carries the error.
 */
export async function synthesize(env: ReplicateEnv, request: ResolvedRequest, bundle: Bundle): Promise<unknown> {
  if (!env.tracing.enabled) return (await synthesizeCall(env, request, bundle, undefined)).output;
  const model = (typeof request.synthesize === 'object' ? request.synthesize.model : undefined) ?? request.agent.model;
  const span = env.tracing.startChild('synthesis', env.span, { 'gen_ai.request.model': model, 'synthesis.answers': bundle.replicates.filter((r) => r.valid).length });
  const done = await synthesizeCall(env, request, bundle, span);
  endSpan(span, {
    error: done.error,
    attributes: { ...usageAttributes(done.usage), 'orchestrator.cost_usd': done.cost_usd, ...(env.spanContent ? { 'gen_ai.output.messages': env.spanContent(done.output) } : {}) },
  });
  return done.output;
}

/** The synthesizer's call and its `synthesis_done` event; answers the output and what it cost. */
async function synthesizeCall(env: ReplicateEnv, request: ResolvedRequest, bundle: Bundle, span: Span | undefined): Promise<SynthesisDone> {
  const options = typeof request.synthesize === 'object' ? request.synthesize : {};
  const model = options.model ?? request.agent.model;
  const schema = request.agent.output_schema;
  const valid = bundle.replicates.filter((r) => r.valid);
  const task = inputText(request.input, { withRoles: true });
  const remembered = await quoteMemory(env, options.memory ?? []).catch((error: unknown) => {
    env.log.warn({ err: error }, 'run memory unreadable: the synthesizer goes without it');
    return "From the run's memory: (unreadable: the store did not answer)";
  });
  const prompt = [
    `Task:\n${task}`,
    `Answers (${valid.length}):`,
    ...valid.slice(0, MAX_QUOTED).map((r) => `[${r.index}] ${JSON.stringify(r.output)}`),
    valid.length > MAX_QUOTED ? `(${valid.length - MAX_QUOTED} more answers not shown)` : '',
    `Disagreements: ${JSON.stringify(bundle.summary.disagreements)}`,
    `Consensus so far: ${JSON.stringify(bundle.summary.consensus)}`,
    remembered,
  ]
    .filter(Boolean)
    .join('\n\n');
  try {
    const result = await env.models.call({
      model,
      instructions: options.instructions ?? DEFAULT_INSTRUCTIONS,
      input: prompt,
      outputSchema: schema,
      seed: request.seed,
      signal: env.signal,
      span,
      slot: { replicate: 'synthesizer' },
      // Across a panel the synthesizer may be any model; it falls back like the replicates do.
      fallbackModels: request.agent.fallback_models,
    });
    const check = schema ? env.validator.validate(schema, result.output) : { valid: true, errors: [] };
    const error = check.valid ? null : new ServiceError('schema_validation', `synthesized output does not match output_schema: ${check.errors.slice(0, 5).join('; ')}`);
    env.emit({
      type: 'synthesis_done',
      source: 'synthesizer',
      provider: result.provider,
      model: result.model,
      output: 'discard' in check && check.discard ? null : result.output,
      usage: result.usage,
      cost_usd: result.cost_usd,
      error: error?.toJSON() ?? null,
    });
    env.memory?.record(env.memory.ownKeys.synthesis, { model: result.model, output: check.valid ? result.output : null, error: error?.toJSON() ?? null });
    // An answer that breaks the schema is reported on synthesis_done; the run keeps its valid consensus.
    return { output: check.valid ? result.output : bundle.summary.consensus, usage: result.usage, cost_usd: result.cost_usd, error };
  } catch (error) {
    const failure = error instanceof ModelCallError ? error.error : new ServiceError('internal', String(error));
    const where = error instanceof ModelCallError && error.provider !== undefined && error.model !== undefined ? { provider: error.provider, model: error.model } : env.models.resolve(model);
    env.emit({ type: 'synthesis_done', source: 'synthesizer', ...where, output: null, usage: emptyUsage(), cost_usd: 0, error: failure.toJSON() });
    env.memory?.record(env.memory.ownKeys.synthesis, { model, output: null, error: failure.toJSON() });
    // A failed synthesizer call leaves the consensus standing; the failure is on synthesis_done.
    return { output: bundle.summary.consensus, usage: emptyUsage(), cost_usd: 0, error: failure };
  }
}
