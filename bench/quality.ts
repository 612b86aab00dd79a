/**
 * Early-stopping quality benchmark: accuracy vs provider calls of fixed-N
 * majority voting and of each early-stop rule, on a simulated provider whose
 * per-question answer distributions are known. Every run goes through the
 * real service (HTTP API → orchestrator → OpenAI SDK → simulator) and is
 * checked against an independent reference model.
 *
 *   npm run bench:quality [-- --reps 3 --questions 200 --concurrency 16 --replay 10000 --no-write]
 *   npm run bench:quality -- --panel-only [--panel-questions 200 --panel-sets 3]
 *
 * Writes bench/results/quality.json and the quality section of BENCHMARKS.md,
 * then runs the cross-model panel scenario (bench/quality/panelRun.ts) and
 * writes its section (`--no-panel` skips it, `--panel-only` runs only it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startTestService } from '../test/helpers/service.ts';
import { checkRun, type Checked, type RunBody } from './quality/check.ts';
import { launchLabel, STRATEGIES, type StrategyConfig } from './quality/configs.ts';
import { DEFAULT_SPEC, EASY_SPEC, makeQuestions, ruleFor, type Question, type QuestionSpec } from './quality/questions.ts';
import { majority, predictAnswer, referenceSequential } from './quality/reference.ts';
import { PANEL_END, PANEL_START, renderPanelSection, runPanelScenario } from './quality/panelRun.ts';
import { machine, renderSection, TARGET_LOSS_PP, TARGET_SAVED, updateBenchmarksMd, type StrategyResult } from './quality/report.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPLICATES = 10;
const OUTPUT_SCHEMA = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    questions: { type: 'string', default: String(DEFAULT_SPEC.count) },
    concurrency: { type: 'string', default: '16' },
    replay: { type: 'string', default: '10000' },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'no-panel': { type: 'boolean', default: false },
    'panel-only': { type: 'boolean', default: false },
    'panel-questions': { type: 'string', default: '200' },
    'panel-sets': { type: 'string', default: '3' },
  },
});

/** The cross-model scenario: its own service, its own section of BENCHMARKS.md. */
async function panelScenario(): Promise<void> {
  const outcome = await runPanelScenario({ count: Number(args['panel-questions']), sets: Number(args['panel-sets']), replicates: 9, concurrency: Number(args.concurrency) });
  const section = renderPanelSection(outcome, { command: commandLine(), date: new Date().toISOString().slice(0, 10), node: process.version });
  console.log(section);
  if (!args['no-write']) updateBenchmarksMd(join(ROOT, 'BENCHMARKS.md'), section, PANEL_START, PANEL_END);
}
if (args['panel-only']) {
  await panelScenario();
  process.exit(0);
}
const reps = Number(args.reps);
const perRep = Number(args.questions);
const concurrency = Number(args.concurrency);
const replayQuestions = Number(args.replay);
const strategies = args.only ? STRATEGIES.filter((s) => s.id === 'baseline' || args.only?.split(',').includes(s.id)) : STRATEGIES;

interface Item {
  rep: number;
  index: number;
  q: Question;
  seed: number;
}

function runSeed(rep: number, index: number): number {
  return (rep * 1_000_003 + index * 7_919 + 17) % 2 ** 31;
}

const items: Item[] = [];
for (let rep = 1; rep <= reps; rep++) {
  makeQuestions(rep, { ...DEFAULT_SPEC, count: perRep }).forEach((q, index) => items.push({ rep, index, q, seed: runSeed(rep, index) }));
}

function commandLine(): string {
  const a = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench:quality') return `npm run bench:quality${a ? ` -- ${a}` : ''}`;
  return `node bench/quality.ts${a ? ` ${a}` : ''}`;
}

async function pool<T>(list: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < list.length) await fn(list[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(width, list.length) }, worker));
}

/**
 * Waits until the simulator has been idle for a while: a call cancelled in
 * flight can still reach it after its run has answered, and must be counted
 * against the strategy that made it, not the next one.
 */
async function settle(): Promise<void> {
  for (;;) {
    await svc.sim.waitForIdle();
    const seen = svc.sim.stats().received;
    await new Promise((r) => setTimeout(r, 150));
    if (svc.sim.stats().received === seen && svc.sim.stats().inFlight === 0) return;
  }
}

const t0 = performance.now();
const svc = await startTestService({
  env: { LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '0', MAX_CONCURRENCY: '20', MAX_RUNS: '500', DEFAULT_TIMEOUT_MS: '60000' },
  behavior: { latencyMs: 0, answers: { kind: 'byPrompt', rules: items.map((it) => ruleFor(it.q)) } },
});

async function postRun(cfg: StrategyConfig, it: Item): Promise<RunBody> {
  const body = {
    input: it.q.prompt,
    replicates: REPLICATES,
    seed: it.seed,
    agent: { output_schema: OUTPUT_SCHEMA },
    ...(cfg.early_stop ? { early_stop: cfg.early_stop } : {}),
    launch: cfg.launch,
  };
  const res = await fetch(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) return { status: `http ${res.status}`, output: null, error: text.slice(0, 300), bundle: null };
  return JSON.parse(text) as RunBody;
}

interface Measured {
  cfg: StrategyConfig;
  runs: Checked[];
  correct: boolean[];
  sim: { received: number; completed: number; aborted: number };
  wallMs: number;
}

const measured: Measured[] = [];
const issueLog: Array<{ strategy: string; rep: number; question: number; issues: string[] }> = [];
try {
  // Warm up the JIT, the SDK and the keep-alive pool; not measured.
  await pool(items.slice(0, 20), concurrency, async (it) => void (await postRun(STRATEGIES[0] as StrategyConfig, it)));
  for (const cfg of strategies) {
    await settle();
    const before = svc.sim.stats();
    const started = performance.now();
    const runs: Checked[] = new Array(items.length);
    await pool(items.map((it, i) => ({ it, i })), concurrency, async ({ it, i }) => {
      runs[i] = checkRun(cfg, it.q, it.seed, REPLICATES, await postRun(cfg, it));
    });
    await settle();
    const after = svc.sim.stats();
    const sim = { received: after.received - before.received, completed: after.completed - before.completed, aborted: after.aborted - before.aborted };
    const launchedTotal = runs.reduce((s, r) => s + r.launched, 0);
    // Sequential runs never abort a call in flight, so launched replicates and received requests must match
    // exactly. With several calls in flight, `attempts` also counts calls aborted before they were sent.
    const sequential = cfg.launch.policy === 'waves' && (cfg.launch.wave_size ?? 1) === 1;
    if (sequential ? launchedTotal !== sim.received : launchedTotal < sim.received) {
      issueLog.push({ strategy: cfg.id, rep: 0, question: -1, issues: [`runs launched ${launchedTotal} replicates but the simulator received ${sim.received}`] });
    }
    runs.forEach((r, i) => {
      const it = items[i] as Item;
      if (r.issues.length) issueLog.push({ strategy: cfg.id, rep: it.rep, question: it.index, issues: r.issues });
    });
    measured.push({ cfg, runs, correct: runs.map((r, i) => r.answer === items[i]?.q.correct), sim, wallMs: performance.now() - started });
    const last = measured.at(-1) as Measured;
    const acc = last.correct.filter(Boolean).length / items.length;
    console.error(
      `${cfg.id.padEnd(11)} ${launchLabel(cfg.launch).padEnd(12)} acc ${(acc * 100).toFixed(2)}%  calls/q ${(sim.received / items.length).toFixed(2)}  ` +
        `${(last.wallMs / 1000).toFixed(1)} s  issues ${runs.filter((r) => r.issues.length).length}`,
    );
  }
} finally {
  await svc.close();
}

// Sequential replay of the reference model on fresh questions: the same rules, many more questions.
function replay(cfg: StrategyConfig, spec: QuestionSpec = DEFAULT_SPEC, setOffset = 1000) {
  if (replayQuestions <= 0 || cfg.launch.policy !== 'waves' || (cfg.launch.wave_size ?? 1) !== 1) return null;
  let n = 0;
  let calls = 0;
  let diff = 0;
  let diff2 = 0;
  let right = 0;
  let baseRight = 0;
  for (let set = 0; n < replayQuestions; set++) {
    for (const [index, q] of makeQuestions(setOffset + set, spec).entries()) {
      if (n >= replayQuestions) break;
      const seed = runSeed(setOffset + set, index);
      const answers = Array.from({ length: REPLICATES }, (_, i) => predictAnswer(q, seed, i));
      const out = referenceSequential(answers, cfg.early_stop);
      const ok = out.consensus === q.correct ? 1 : 0;
      const baseOk = majority(answers) === q.correct ? 1 : 0;
      const d = ok - baseOk;
      right += ok;
      baseRight += baseOk;
      diff += d;
      diff2 += d * d;
      calls += out.used;
      n++;
    }
  }
  const mean = diff / n;
  const sd = Math.sqrt(Math.max(0, diff2 / n - mean * mean) * (n / (n - 1)));
  return { questions: n, accuracy: right / n, baselineAccuracy: baseRight / n, deltaPp: mean * 100, deltaSePp: (sd / Math.sqrt(n)) * 100, callsPerQ: calls / n, saved: 1 - calls / n / REPLICATES };
}

const base = measured[0] as Measured;
const N = items.length;
const results: StrategyResult[] = measured.map((m) => {
  const acc = m.correct.filter(Boolean).length / N;
  const diffs = m.correct.map((c, i) => (c ? 1 : 0) - (base.correct[i] ? 1 : 0));
  const meanDiff = diffs.reduce((s: number, d) => s + d, 0) / N;
  const varDiff = diffs.reduce((s: number, d) => s + (d - meanDiff) ** 2, 0) / (N - 1);
  const saved = 1 - m.sim.received / base.sim.received;
  const deltaPp = meanDiff * 100;
  const stopReasons: Record<string, number> = {};
  for (const r of m.runs) {
    const key = r.triggered ? `${r.rule} after ${r.after}` : 'not triggered';
    stopReasons[key] = (stopReasons[key] ?? 0) + 1;
  }
  return {
    id: m.cfg.id,
    label: m.cfg.label,
    launch: m.cfg.launch,
    early_stop: m.cfg.early_stop ?? null,
    questions: N,
    accuracy: acc,
    accuracySe: Math.sqrt((acc * (1 - acc)) / N),
    deltaPp,
    deltaSePp: Math.sqrt(varDiff / N) * 100,
    wins: diffs.filter((d) => d > 0).length,
    losses: diffs.filter((d) => d < 0).length,
    receivedPerQ: m.sim.received / N,
    completedPerQ: m.sim.completed / N,
    abortedPerQ: m.sim.aborted / N,
    usedPerQ: m.runs.reduce((s, r) => s + (r.triggered && r.after !== null ? r.after : REPLICATES), 0) / N,
    roundsPerQ: m.runs.reduce((s, r) => s + r.rounds, 0) / N,
    saved,
    stopRate: m.runs.filter((r) => r.triggered).length / N,
    meetsTarget: m.cfg.id !== 'baseline' && saved >= TARGET_SAVED && deltaPp >= -TARGET_LOSS_PP,
    launchedTotal: m.runs.reduce((s, r) => s + r.launched, 0),
    simulator: m.sim,
    wallMs: Math.round(m.wallMs),
    issues: issueLog.filter((x) => x.strategy === m.cfg.id).length,
    stopReasons,
    chargedPerQ: m.runs.reduce((s, r) => s + r.charged, 0) / N,
    replay: replay(m.cfg),
    replayEasy: replay(m.cfg, EASY_SPEC, 5000),
  };
});

const wallSeconds = (performance.now() - t0) / 1000;
const meta = {
  command: commandLine(),
  date: new Date().toISOString().slice(0, 10),
  machine: machine(),
  reps,
  questionsPerRep: perRep,
  replicates: REPLICATES,
  baselineAccuracy: results[0]?.accuracy ?? Number.NaN,
  replayQuestions,
  easyMix: `p ~ U[${EASY_SPEC.pMin}, ${EASY_SPEC.pMax}]`,
  totalIssues: issueLog.length,
  wallSeconds,
};

console.log(renderSection(meta, results));
if (!args['no-write']) {
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const questions = items.map((it) => ({ rep: it.rep, index: it.index, seed: it.seed, correct: it.q.correct, distribution: it.q.distribution }));
  const perRun = Object.fromEntries(
    measured.map((m) => [m.cfg.id, m.runs.map((r, i) => [m.correct[i] ? 1 : 0, r.launched, r.triggered ? r.after : null])]),
  );
  writeFileSync(
    join(resultsDir, 'quality.json'),
    `${JSON.stringify({ meta, spec: { ...DEFAULT_SPEC, count: perRep }, target: { saved: TARGET_SAVED, maxLossPp: TARGET_LOSS_PP }, results, issues: issueLog.slice(0, 200), perRunFormat: '[correct, launched, after]', perRun, questions })}\n`,
  );
  updateBenchmarksMd(join(ROOT, 'BENCHMARKS.md'), renderSection(meta, results));
  console.error(`wrote bench/results/quality.json and the quality section of BENCHMARKS.md (${wallSeconds.toFixed(0)} s)`);
}
if (issueLog.length) {
  console.error(`${issueLog.length} runs disagree with the reference model; first ones:`);
  for (const x of issueLog.slice(0, 10)) console.error(`  ${x.strategy} r${x.rep} q${x.question}: ${x.issues.join(' | ')}`);
  process.exitCode = 1;
}
if (!args['no-panel']) await panelScenario();
