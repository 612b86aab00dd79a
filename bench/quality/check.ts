/**
 * Per-run checks of the service's early-stop behaviour against the
 * reference model. Each returns human-readable problems (empty = fine).
 */
import type { StrategyConfig } from './configs.ts';
import type { Question } from './questions.ts';
import { majority, predictAnswer, referenceSequential } from './reference.ts';

/** The parts of a run result the benchmark reads. */
export interface RunBody {
  status: string;
  output: { answer?: unknown } | null;
  error: unknown;
  bundle: {
    early_stop: { triggered: boolean; reason: string | null; rule?: string | null; after?: number | null };
    statistics: { requested: number; completed: number; succeeded: number; failed: number; cancelled: number };
    replicates: Array<{
      index: number;
      status: string;
      attempts: number;
      output: { answer?: unknown } | null;
      valid: boolean;
      seed: number;
      usage: { total_tokens: number };
    }>;
  } | null;
}

export interface Checked {
  answer: string | null;
  launched: number;
  /** Replicates whose tokens the run was charged for. */
  charged: number;
  /** Sequential model-call rounds (a latency proxy). */
  rounds: number;
  triggered: boolean;
  after: number | null;
  rule: string | null;
  reason: string | null;
  issues: string[];
}

/** Checks one run; `requested` is the replicates asked for. */
export function checkRun(cfg: StrategyConfig, q: Question, seed: number, requested: number, body: RunBody): Checked {
  const issues: string[] = [];
  const b = body.bundle;
  if (body.status !== 'succeeded' || !b) {
    return { answer: null, launched: 0, charged: 0, rounds: 0, triggered: false, after: null, rule: null, reason: null, issues: [`run status ${body.status}: ${JSON.stringify(body.error)}`] };
  }
  const answer = typeof body.output?.answer === 'string' ? body.output.answer : null;
  const es = b.early_stop;
  const st = b.statistics;
  const reps = [...b.replicates].sort((x, y) => x.index - y.index);
  const launched = reps.filter((r) => r.attempts > 0).length;
  const succeeded = reps.filter((r) => r.status === 'succeeded');
  const after = es.after ?? null;

  // The simulator answered what (seed + index + 1, prompt) determines.
  for (const r of succeeded) {
    const want = predictAnswer(q, seed, r.index);
    if (r.output?.answer !== want) issues.push(`replicate ${r.index} answered ${JSON.stringify(r.output)}, expected ${want}`);
    if (r.seed !== seed + r.index + 1) issues.push(`replicate ${r.index} seed ${r.seed}, expected ${seed + r.index + 1}`);
  }
  // Bookkeeping.
  if (st.requested !== requested) issues.push(`statistics.requested ${st.requested} ≠ ${requested}`);
  if (st.succeeded + st.failed + st.cancelled !== requested) issues.push(`succeeded+failed+cancelled = ${st.succeeded + st.failed + st.cancelled} ≠ ${requested}`);
  if (st.succeeded !== succeeded.length) issues.push(`statistics.succeeded ${st.succeeded} ≠ ${succeeded.length} succeeded replicates`);
  if (st.failed !== 0) issues.push(`${st.failed} failed replicates`);
  const cancelled = reps.filter((r) => r.status === 'cancelled').length;
  if (st.cancelled !== cancelled) issues.push(`statistics.cancelled ${st.cancelled} ≠ ${cancelled} cancelled replicates`);
  // The consensus is the plurality of what succeeded.
  const vote = majority(succeeded.map((r) => String(r.output?.answer)));
  if (answer !== vote) issues.push(`output ${answer} ≠ majority ${vote} of the succeeded replicates`);
  // Stop reporting.
  if (!cfg.early_stop && es.triggered) issues.push('early stop triggered without early_stop');
  if (es.triggered) {
    if (es.rule !== cfg.expectRule) issues.push(`stopped by ${es.rule}, expected ${cfg.expectRule}`);
    if (!es.reason) issues.push('triggered without a reason');
    if (after === null || after < 1 || after >= requested) issues.push(`after = ${after}`);
    else if (succeeded.length < after) issues.push(`only ${succeeded.length} succeeded but stopped after ${after}`);
    if (cancelled === 0) issues.push('triggered but nothing cancelled');
  } else {
    if (after !== null || es.reason !== null) issues.push(`not triggered yet after=${after}, reason=${es.reason}`);
    if (cancelled !== 0) issues.push(`${cancelled} cancelled without an early stop`);
  }

  const launch = cfg.launch;
  let rounds = 1;
  if (launch.policy === 'waves') {
    const w = launch.wave_size ?? 1;
    // Waves start only after the previous one has fully finished; the stop lands in wave ceil(after / w).
    const expectLaunched = es.triggered && after !== null ? Math.min(requested, Math.ceil(after / w) * w) : requested;
    if (launched !== expectLaunched) issues.push(`launched ${launched} replicates, expected ${expectLaunched} (waves of ${w}, after ${after})`);
    rounds = Math.ceil(launched / w);
    for (const r of reps) if (r.index >= expectLaunched && r.attempts !== 0) issues.push(`replicate ${r.index} beyond the last wave was launched`);
  }
  if (launch.policy === 'waves' && (launch.wave_size ?? 1) === 1) {
    // Sequential: the whole trajectory is known, so the stop point must match the reference exactly.
    const answers = Array.from({ length: requested }, (_, i) => predictAnswer(q, seed, i));
    const ref = referenceSequential(answers, cfg.early_stop);
    const got = es.triggered ? after : null;
    const want = ref.rule ? ref.used : null;
    if (got !== want) issues.push(`stopped after ${got}, reference stops after ${want} (answers ${answers.join('')})`);
    if (answer !== ref.consensus) issues.push(`consensus ${answer}, reference ${ref.consensus}`);
    if (launched !== ref.used) issues.push(`launched ${launched}, reference used ${ref.used}`);
  }
  const charged = reps.filter((r) => r.usage.total_tokens > 0).length;
  return { answer, launched, charged, rounds, triggered: es.triggered, after, rule: es.rule ?? null, reason: es.reason, issues };
}
