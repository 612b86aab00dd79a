import {
  computeStatistics,
  decideEarlyStop,
  meanPairwiseDistance,
  PairwiseMatrix,
  summarize,
  TextComparer,
  voteKey,
  canonicalJson,
  cosineDistance,
  distanceBetween,
  type BundleSummary,
  type DistanceMetric,
} from '../bundle/index.ts';
import { ServiceError } from '../errors.ts';
import { ModelCallError } from '../providers/gateway.ts';
import { emptyUsage, type Bundle, type EarlyStopResult, type Replicate, type Summary } from '../schemas/bundle.ts';
import type { ResolvedRequest, ToolOutcome } from '../tools/api.ts';
import { endSpan, usageAttributes } from '../observability/tracing.ts';
import { isoMicros, preciseNow } from './clock.ts';
import { replicateSeed } from './resolveRequest.ts';
import type { ReplicateEnv } from './replicateEnv.ts';
import { handoffCall } from './handoffCall.ts';
import type { Span } from '@opentelemetry/api';
import { panelPlan, type PanelPlan } from './panelPlan.ts';
import { partialEntry } from './runMemory.ts';
import { Semaphore } from './semaphore.ts';
import { synthesize } from './synthesizer.ts';
import type { SchemaValidator } from './validator.ts';

export type { ReplicateEnv } from './replicateEnv.ts';

/** Up to this many replicates, every arrival (or burst of arrivals) publishes a partial summary; past it, about this many in all. */
const PARTIAL_SUMMARY_TARGET = 20;

/**
 * Runs `request.replicates` sub-agents in parallel (bounded), validates each
 * output, publishes `replicate_done` and `partial_summary` as they land,
 * stops early when the configured rule says the answer is settled, and
 * returns the Evidence Bundle with the consensus as output.
 */
export async function runReplicates(env: ReplicateEnv, request: ResolvedRequest): Promise<ToolOutcome> {
  const n = request.replicates;
  const stopper = new AbortController();
  const signal = AbortSignal.any([env.signal, stopper.signal]);
  const schema = request.agent.output_schema;
  const panel = panelPlan(request, env.models);
  const semantic = request.metric === 'semantic' ? new SemanticSpace() : null;
  // One memo of text profiles and distances for the matrix and every merge of this run.
  const texts = new TextComparer();
  const matrix = new PairwiseMatrix({ metric: semantic ? semantic.distance : (request.metric as DistanceMetric), texts });
  const finished: Replicate[] = [];
  const validKeys: string[] = [];
  const validIndices: number[] = [];
  const slots = new Semaphore(Math.max(1, Math.min(env.maxConcurrency, n)));
  const summaryEvery = n <= PARTIAL_SUMMARY_TARGET ? 1 : Math.ceil(n / PARTIAL_SUMMARY_TARGET);
  let earlyStop: EarlyStopResult = { triggered: false, reason: null, rule: null, after: null };
  /** The latest summary and how many replicates it covered: the final one reuses it when nothing changed since. */
  let latest: { summary: Summary; covers: number } | null = null;

  let pendingPublish: NodeJS.Immediate | null = null;
  const publishPartial = () => {
    pendingPublish = null;
    const covers = finished.length;
    const summary = latest?.covers === covers ? latest.summary : summarizeFinished(finished, matrix, texts, request, env.validator, panel);
    latest = { summary, covers };
    env.emit({ type: 'partial_summary', summary, statistics: computeStatistics(finished, n), budget_used: env.account.report().used });
    env.memory?.record(env.memory.ownKeys.partial, partialEntry(summary, covers, n));
  };

  const onFinished = (replicate: Replicate, announce = true) => {
    finished.push(replicate);
    if (announce) {
      env.emit({
        type: 'replicate_done',
        source: `replicate:${replicate.index}`,
        provider: replicate.provider,
        model: replicate.model,
        replicate,
      });
    }
    matrix.add(replicate.index, replicate.valid ? replicate.output : null);
    const rules = request.early_stop;
    // Vote keys and valid indices only feed the early-stopping rules.
    if (rules && replicate.valid) {
      validKeys.push(voteKey(replicate.output));
      validIndices.push(replicate.index);
    }
    const needConfidence = rules?.confidence !== undefined && !earlyStop.triggered;
    const summary = needConfidence ? summarizeFinished(finished, matrix, texts, request, env.validator, panel) : null;
    if (summary) latest = { summary, covers: finished.length };
    // Replicates that land together (the common case: they were launched together)
    // share one partial summary, published once the burst has been taken in.
    if ((finished.length % summaryEvery === 0 || finished.length === n) && pendingPublish === null) pendingPublish = setImmediate(publishPartial);
    if (!rules || earlyStop.triggered || signal.aborted) return;
    const decision = decideEarlyStop(
      {
        keys: validKeys,
        ...(rules.epsilon !== undefined ? { meanDistance: meanPairwiseDistance(matrix, validIndices) } : {}),
        ...(summary ? { confidence: summary.confidence } : {}),
        finished: finished.length,
        requested: n,
      },
      rules,
    );
    if (decision.stop) {
      earlyStop = { triggered: true, reason: decision.reason, rule: decision.rule, after: finished.length };
      env.log.info({ rule: decision.rule, after: finished.length }, 'early stop');
      stopper.abort(new ServiceError('cancelled', `stopped early: ${decision.reason ?? ''}`));
    }
  };

  const launched = new Set<number>();
  // A take-over keeps what its predecessor finished: same bookkeeping (matrix, early stop), no second replicate_done.
  for (const replicate of env.kept ?? []) {
    if (replicate.index >= n || launched.has(replicate.index)) continue;
    launched.add(replicate.index);
    if (semantic && replicate.valid) await semantic.embed(env, replicate.output, signal);
    onFinished(replicate, false);
  }
  const runOne = async (index: number): Promise<void> => {
    if (launched.has(index)) return;
    try {
      await slots.acquire(signal);
    } catch {
      return; // never launched; filled in as cancelled below
    }
    launched.add(index);
    try {
      const replicate = await callOne(env, request, index, signal, schema, panel);
      if (semantic && replicate.valid) await semantic.embed(env, replicate.output, signal);
      onFinished(replicate);
    } finally {
      slots.release();
    }
  };

  const indices = Array.from({ length: n }, (_, i) => i);
  if (request.launch.policy === 'waves') {
    const wave = request.launch.wave_size ?? defaultWaveSize(request);
    for (let start = 0; start < n && !signal.aborted; start += wave) {
      await Promise.all(indices.slice(start, start + wave).map(runOne));
    }
  } else {
    await Promise.all(indices.map(runOne));
  }

  // The last partial summary goes out before the bundle, never after it.
  if (pendingPublish !== null) {
    clearImmediate(pendingPublish);
    publishPartial();
  }
  for (const index of indices) {
    if (!launched.has(index)) {
      const placeholder = notLaunched(index, request, env.models.resolve(panel.modelOf(index)), signal);
      finished.push(placeholder);
      matrix.add(index, null);
    }
  }
  const replicates = [...finished].sort((a, b) => a.index - b.index);
  // (Assigned in callbacks, which TypeScript's narrowing does not see.)
  const last = latest as { summary: Summary; covers: number } | null;
  const summary = last?.covers === replicates.length ? last.summary : summarizeFinished(replicates, matrix, texts, request, env.validator, panel);
  const bundle: Bundle = { replicates, summary, statistics: computeStatistics(replicates, n), early_stop: earlyStop, ...panel.byModel(replicates, summary, request.metric) };
  env.emit({ type: 'bundle_ready', bundle });

  const succeeded = replicates.filter((r) => r.valid);
  if (succeeded.length === 0) {
    return { output: null, bundle, error: env.signal.aborted ? null : allFailed(replicates) };
  }
  if (request.synthesize && !env.signal.aborted) {
    return { output: await synthesize(env, request, bundle), bundle };
  }
  return { output: summary.consensus, bundle };
}

/** One replicate under its `replicate` span: the call and its outcome. Never throws. */
async function callOne(env: ReplicateEnv, request: ResolvedRequest, index: number, signal: AbortSignal, schema: Record<string, unknown> | undefined, panel: PanelPlan): Promise<Replicate> {
  const { tracing } = env;
  if (!tracing.enabled) return callModel(env, request, index, signal, schema, undefined, panel);
  const seed = replicateSeed(request.seed, index);
  const span = tracing.startChild('replicate', env.span, { 'replicate.index': index, 'replicate.seed': seed, 'gen_ai.request.model': panel.modelOf(index) });
  if (env.spanContent) span.setAttribute('gen_ai.input.messages', env.spanContent(request.input));
  const replicate = await callModel(env, request, index, signal, schema, span, panel);
  if (env.spanContent && replicate.output !== null) span.setAttribute('gen_ai.output.messages', env.spanContent(replicate.output));
  endSpan(span, {
    error: replicate.error,
    attributes: {
      'replicate.status': replicate.status,
      'replicate.valid': replicate.valid,
      'replicate.attempts': replicate.attempts,
      'gen_ai.provider.name': replicate.provider,
      'orchestrator.cost_usd': replicate.cost_usd,
      ...usageAttributes(replicate.usage),
    },
  });
  return replicate;
}

/** One replicate: one model call, then schema validation. Never throws. */
async function callModel(
  env: ReplicateEnv,
  request: ResolvedRequest,
  index: number,
  signal: AbortSignal,
  schema: Record<string, unknown> | undefined,
  span: Span | undefined,
  panel: PanelPlan,
): Promise<Replicate> {
  const seed = replicateSeed(request.seed, index);
  const startedAt = preciseNow();
  const model = panel.modelOf(index);
  try {
    const result = await env.models.call({
      model,
      fallbackModels: panel.fallbacks,
      slot: { replicate: index },
      instructions: request.agent.instructions,
      input: request.input,
      outputSchema: schema,
      seed,
      temperature: request.agent.temperature,
      maxOutputTokens: request.agent.max_output_tokens,
      signal,
      span,
      ...handoffCall(env, request, index),
    });
    const check = schema ? env.validator.validate(schema, result.output) : { valid: true, errors: [] };
    return {
      index,
      status: check.valid ? 'succeeded' : 'failed',
      output: check.discard ? null : result.output,
      valid: check.valid,
      provider: result.provider,
      model: result.model,
      seed,
      attempts: result.attempts,
      usage: result.usage,
      cost_usd: result.cost_usd,
      latency_ms: round(result.latency_ms),
      started_at: isoMicros(startedAt),
      ended_at: isoMicros(preciseNow()),
      error: check.valid
        ? null
        : new ServiceError('schema_validation', `output does not match output_schema: ${check.errors.slice(0, 5).join('; ')}`, { details: { errors: check.errors.slice(0, 20) } }).toJSON(),
      ...(result.warnings?.length ? { warnings: result.warnings } : {}),
      ...(result.fallbacks?.length ? { fallbacks: result.fallbacks } : {}),
      ...(result.runtime ? { runtime: result.runtime } : {}),
    };
  } catch (error) {
    const failure = error instanceof ModelCallError ? error : new ModelCallError(new ServiceError('internal', String(error)), 0, 0);
    if (!signal.aborted) env.log.warn({ replicate: index, code: failure.error.code, attempts: failure.attempts, err: failure.error }, 'replicate failed');
    const tried = failure.provider !== undefined && failure.model !== undefined ? { provider: failure.provider, model: failure.model } : env.models.resolve(model);
    return {
      index,
      status: signal.aborted ? 'cancelled' : 'failed',
      output: null,
      valid: false,
      ...tried,
      seed,
      attempts: failure.attempts,
      usage: failure.spent?.usage ?? emptyUsage(),
      cost_usd: failure.spent?.cost_usd ?? 0,
      latency_ms: round(failure.latency_ms),
      started_at: isoMicros(startedAt),
      ended_at: isoMicros(preciseNow()),
      error: failure.error.toJSON(),
      ...(failure.fallbacks.length > 0 ? { fallbacks: failure.fallbacks } : {}),
    };
  }
}

/** The summary over what has finished; the merged consensus is checked against the output schema too. */
function summarizeFinished(
  replicates: readonly Replicate[],
  matrix: PairwiseMatrix,
  texts: TextComparer,
  request: ResolvedRequest,
  validator: SchemaValidator,
  panel: PanelPlan,
): Summary {
  const summary: BundleSummary = summarize(replicates, { matrix, merge: panel.merge(replicates), mergeOptions: { texts } });
  const schema = request.agent.output_schema;
  if (!schema || summary.consensus === null || summary.consensus === undefined) return summary;
  return { ...summary, consensus_valid: validator.validate(schema, summary.consensus).valid };
}

function notLaunched(index: number, request: ResolvedRequest, where: { provider: string; model: string }, signal: AbortSignal): Replicate {
  const reason = signal.reason instanceof ServiceError ? signal.reason : new ServiceError('cancelled', 'not launched');
  return {
    index,
    status: 'cancelled',
    output: null,
    valid: false,
    provider: where.provider,
    model: where.model,
    seed: replicateSeed(request.seed, index),
    attempts: 0,
    usage: emptyUsage(),
    cost_usd: 0,
    latency_ms: 0,
    started_at: null,
    ended_at: null,
    error: reason.toJSON(),
  };
}

/** Waves just big enough for the configured stopping rule to fire after the first. */
function defaultWaveSize(request: ResolvedRequest): number {
  const rules = request.early_stop;
  return Math.max(1, rules?.quorum ?? 0, rules?.min_replicates ?? 0, rules?.window ?? 0, rules ? 2 : request.replicates);
}

function allFailed(replicates: readonly Replicate[]): ServiceError {
  const codes = new Map<string, number>();
  for (const r of replicates) if (r.error) codes.set(r.error.code, (codes.get(r.error.code) ?? 0) + 1);
  const [code] = [...codes.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['provider_error'];
  const first = replicates.find((r) => r.error?.code === code)?.error;
  const known = code === 'schema_validation' || code === 'circuit_open' || code === 'rate_limited' || code === 'timeout' ? code : 'provider_error';
  return new ServiceError(known, `all ${replicates.length} replicates failed; first error: ${first?.message ?? 'unknown'}`, {
    retryable: first?.retryable ?? false,
  });
}

/**
 * The semantic metric: each valid output is embedded once (an embeddings
 * call charged to the run), and outputs compare by cosine distance. An
 * output whose embedding failed falls back to the automatic metric, so one
 * failed call does not fail the run.
 */
class SemanticSpace {
  readonly #vectors = new Map<string, number[]>();

  async embed(env: ReplicateEnv, output: unknown, signal: AbortSignal): Promise<void> {
    const text = typeof output === 'string' ? output : canonicalJson(output);
    if (this.#vectors.has(text)) return;
    try {
      const result = await env.models.embed({ input: [text], signal });
      const vector = result.vectors[0];
      if (vector) this.#vectors.set(text, vector);
    } catch (error) {
      if (!signal.aborted) env.log.warn({ err: error }, 'embedding failed; falling back to the automatic metric for this output');
    }
  }

  readonly distance = (a: unknown, b: unknown): number => {
    if (a === null || a === undefined || b === null || b === undefined) return 1;
    const va = this.#vectors.get(typeof a === 'string' ? a : canonicalJson(a));
    const vb = this.#vectors.get(typeof b === 'string' ? b : canonicalJson(b));
    return va && vb ? cosineDistance(va, vb) : distanceBetween(a, b, 'auto');
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
