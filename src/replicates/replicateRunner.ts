import { computeStatistics, PairwiseMatrix, TextComparer, type DistanceMetric } from '../bundle/index.ts';
import { ServiceError } from '../errors.ts';
import type { Bundle, Replicate } from '../schemas/bundle.ts';
import type { ResolvedRequest, ToolOutcome } from '../toolkit/api.ts';
import { Semaphore } from '../lib/semaphore.ts';
import { EarlyStopWatch } from './earlyStopWatch.ts';
import { launchAll } from './launchPolicy.ts';
import { PartialSummaries } from './partialSummaries.ts';
import { panelPlan } from './panelPlan.ts';
import type { ReplicateEnv } from './replicateEnv.ts';
import { callOne, notLaunched } from './replicateRecord.ts';
import { SemanticSpace } from './semanticSpace.ts';
import { synthesize } from './synthesizer.ts';

export type { ReplicateEnv } from './replicateEnv.ts';

/**
 * Runs `request.replicates` sub-agents in parallel (bounded), validates each
 * output, publishes `replicate_done` and `partial_summary` as they land,
 * stops early when the configured rule says the answer is settled, and
 * returns the Evidence Bundle with the consensus as output.
 */
export async function runReplicates(env: ReplicateEnv, request: ResolvedRequest): Promise<ToolOutcome> {
  // The replicates' signal: the run's, or an early stop. One controller that follows the run's signal
  // (a listener, removed at the end) rather than AbortSignal.any: the SDK composes every call's signal
  // with its own, and composing a composite costs a walk of its sources each time (~1 % of a run's CPU).
  const stopper = new AbortController();
  const follow = () => stopper.abort(env.signal.reason);
  if (env.signal.aborted) follow();
  else env.signal.addEventListener('abort', follow, { once: true });
  try {
    return await replicateAll(env, request, stopper);
  } finally {
    env.signal.removeEventListener('abort', follow);
  }
}

async function replicateAll(env: ReplicateEnv, request: ResolvedRequest, stopper: AbortController): Promise<ToolOutcome> {
  const n = request.replicates;
  const signal = stopper.signal;
  const panel = panelPlan(request, env.models);
  const semantic = request.metric === 'semantic' ? new SemanticSpace() : null;
  // One memo of text profiles and distances for the matrix and every merge of this run.
  const texts = new TextComparer();
  const matrix = new PairwiseMatrix({ metric: semantic ? semantic.distance : (request.metric as DistanceMetric), texts });
  const finished: Replicate[] = [];
  const summaries = new PartialSummaries(env, request, matrix, texts, finished, panel);
  const earlyStop = new EarlyStopWatch(request.early_stop, n);

  const onFinished = (replicate: Replicate, announce: boolean) => {
    finished.push(replicate);
    if (announce) env.emit({ type: 'replicate_done', source: `replicate:${replicate.index}`, provider: replicate.provider, model: replicate.model, replicate });
    matrix.add(replicate.index, replicate.valid ? replicate.output : null);
    earlyStop.note(replicate);
    const confidence = earlyStop.wantsConfidence ? summaries.now().confidence : undefined;
    summaries.arrived();
    if (signal.aborted) return;
    const stop = earlyStop.decide(matrix, finished.length, confidence);
    if (stop) {
      env.log.info({ rule: stop.rule, after: stop.after }, 'early stop');
      stopper.abort(new ServiceError('cancelled', `stopped early: ${stop.reason ?? ''}`));
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
  const slots = new Semaphore(Math.max(1, Math.min(env.maxConcurrency, n)));
  await launchAll(request, signal, async (index) => {
    if (launched.has(index)) return;
    try {
      await slots.acquire(signal);
    } catch {
      return; // never launched; filled in as cancelled below
    }
    launched.add(index);
    try {
      const replicate = await callOne(env, request, index, signal, panel);
      if (semantic && replicate.valid) await semantic.embed(env, replicate.output, signal);
      onFinished(replicate, true);
    } finally {
      slots.release();
    }
  });

  summaries.flush();
  for (let index = 0; index < n; index++) {
    if (!launched.has(index)) {
      finished.push(notLaunched(index, request, env.models.resolve(panel.modelOf(index)), signal));
      matrix.add(index, null);
    }
  }
  const replicates = [...finished].sort((a, b) => a.index - b.index);
  const summary = summaries.final(replicates);
  const bundle: Bundle = { replicates, summary, statistics: computeStatistics(replicates, n), early_stop: earlyStop.result, ...panel.byModel(replicates, summary, request.metric) };
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
