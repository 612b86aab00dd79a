/** Aggregation, the Markdown section and the marker-delimited update of BENCHMARKS.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { launchLabel, type StrategyConfig } from './configs.ts';

export const START_MARKER = '<!-- quality:start -->';
export const END_MARKER = '<!-- quality:end -->';

/** Target: at least this share of calls saved ... */
export const TARGET_SAVED = 0.5;
/** ... at no more than this accuracy loss, in percentage points. */
export const TARGET_LOSS_PP = 0.5;

/** Sequential replay of a rule by the reference model on fresh questions. */
export interface Replay {
  questions: number;
  accuracy: number;
  baselineAccuracy: number;
  deltaPp: number;
  deltaSePp: number;
  callsPerQ: number;
  saved: number;
}

export interface StrategyResult {
  id: string;
  label: string;
  launch: StrategyConfig['launch'];
  early_stop: StrategyConfig['early_stop'] | null;
  questions: number;
  accuracy: number;
  accuracySe: number;
  /** Paired difference against the baseline, in percentage points. */
  deltaPp: number;
  deltaSePp: number;
  /** Questions where this strategy was right and the baseline wrong, and vice versa. */
  wins: number;
  losses: number;
  receivedPerQ: number;
  completedPerQ: number;
  abortedPerQ: number;
  /** Answers the vote used (the stop point, or all replicates). */
  usedPerQ: number;
  /** Replicates whose tokens the run's usage/cost include. */
  chargedPerQ: number;
  roundsPerQ: number;
  saved: number;
  stopRate: number;
  meetsTarget: boolean;
  /** Sum of per-run `launched` (attempts > 0); equals the simulator's `received` for sequential rows. */
  launchedTotal: number;
  simulator: { received: number; completed: number; aborted: number };
  wallMs: number;
  issues: number;
  stopReasons: Record<string, number>;
  /** Reference replay on fresh questions of the same mix (wave_size 1 rows only). */
  replay: Replay | null;
  /** Reference replay on an easier mix (wave_size 1 rows only). */
  replayEasy: Replay | null;
}

export function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1].trim();
  } catch {
    /* not Linux */
  }
  return { cpu, cores: os.availableParallelism(), memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.arch()}` };
}

const pct = (x: number, d = 1) => `${(x * 100).toFixed(d)}%`;
const signed = (x: number, d = 2) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(d)}`;
const meets = (saved: number, deltaPp: number) => saved >= TARGET_SAVED && deltaPp >= -TARGET_LOSS_PP;

export interface ReportMeta {
  command: string;
  date: string;
  machine: ReturnType<typeof machine>;
  reps: number;
  questionsPerRep: number;
  replicates: number;
  baselineAccuracy: number;
  replayQuestions: number;
  easyMix: string;
  totalIssues: number;
  wallSeconds: number;
}

export function renderSection(meta: ReportMeta, results: StrategyResult[]): string {
  const m = meta.machine;
  const n = meta.reps * meta.questionsPerRep;
  const kq = `${(meta.replayQuestions / 1000).toFixed(0)}k`;
  const rows = results.map((r) => {
    const isBase = r.id === 'baseline';
    return [
      r.label,
      launchLabel(r.launch),
      `${pct(r.accuracy)} ± ${(r.accuracySe * 100).toFixed(1)}`,
      isBase ? '—' : `${signed(r.deltaPp)} ± ${r.deltaSePp.toFixed(2)} (${r.wins}/${r.losses})`,
      r.receivedPerQ.toFixed(2),
      r.completedPerQ.toFixed(2),
      isBase ? '—' : pct(r.saved),
      r.roundsPerQ.toFixed(2),
      r.replay ? `${signed(r.replay.deltaPp)} ± ${r.replay.deltaSePp.toFixed(2)} / ${pct(r.replay.saved)}` : '—',
      r.replayEasy ? `${signed(r.replayEasy.deltaPp)} / ${pct(r.replayEasy.saved)}${meets(r.replayEasy.saved, r.replayEasy.deltaPp) ? ' ✓' : ''}` : '—',
      isBase ? '—' : r.meetsTarget ? '**yes**' : 'no',
    ];
  });
  const header = ['Strategy', 'Launch', 'Accuracy ± SE', 'Δ pp ± paired SE (won/lost)', 'Calls/q received', 'Completed/q', 'Calls saved', 'Rounds/q', `Replay ${kq} q: Δ pp / saved`, `Replay, easier mix: Δ pp / saved`, 'Target'];
  const align = ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'];
  const winners = results.filter((r) => r.meetsTarget).map((r) => `${r.label} (${launchLabel(r.launch)})`);
  const replayWinners = results.filter((r) => r.replay && meets(r.replay.saved, r.replay.deltaPp)).map((r) => r.label);
  const easy = results.filter((r) => r.replayEasy);
  const easyWinners = easy.filter((r) => r.replayEasy && meets(r.replayEasy.saved, r.replayEasy.deltaPp)).map((r) => r.label);
  const easyBase = easy[0]?.replayEasy?.baselineAccuracy;
  const all = results.find((r) => r.launch.policy === 'all' && r.id !== 'baseline');
  const closest = [...results]
    .filter((r) => r.id !== 'baseline' && r.deltaPp >= -TARGET_LOSS_PP)
    .sort((a, b) => b.saved - a.saved)[0];
  const lines = [
    START_MARKER,
    '<!-- generated by `npm run bench:quality`; edits inside these markers are overwritten -->',
    '## Early-stopping quality',
    '',
    `\`${meta.command}\` — ${meta.date}, Node ${m.node}, ${m.cores} × ${m.cpu}, ${m.platform}; ${meta.wallSeconds.toFixed(0)} s in all.`,
    '',
    `${meta.reps} × ${meta.questionsPerRep} = ${n} simulated questions, each run once per strategy with ${meta.replicates} replicates through the real service ` +
      '(POST /v1/runs → orchestrator → OpenAI SDK → simulator). Question i is answered right with p_i ~ U[0.6, 0.95]; the rest goes to 2–4 wrong answers, ' +
      'the strongest taking 50–90 % of it (at most 0.35). Replicate seeds are shared across strategies, so an early-stopped run sees a prefix of the ' +
      'baseline’s samples and Δ is a paired difference (won/lost: questions right only with the strategy / only with the baseline). ' +
      '*Calls/q received* = model requests the simulator received (what is billed); *Completed/q* = requests it answered in full; ' +
      '*Rounds/q* = sequential model-call rounds, a latency proxy. *Replay* = the reference model replaying the same sequential rule on ' +
      `${meta.replayQuestions.toLocaleString('en-US')} fresh questions of the same mix (it reproduces the service run for run), for tighter error bars.`,
    '',
    table(header, rows, align),
    '',
    `**Target (≥ ${pct(TARGET_SAVED, 0)} fewer calls at ≤ ${TARGET_LOSS_PP} pp loss): ${winners.length ? `met by ${winners.join('; ')}` : 'met by no rule on this question mix'}` +
      `${replayWinners.length ? ` (replay: ${replayWinners.join('; ')})` : ' (replay agrees)'}.**` +
      (closest ? ` Closest within the loss bound: ${closest.label} (${launchLabel(closest.launch)}), ${pct(closest.saved)} saved at ${signed(closest.deltaPp)} pp.` : ''),
    '',
    `With N = ${meta.replicates} the savings are capped by how often the first few answers agree: a rule that waits for 3–4 unanimous answers stops early on about ` +
      'E[p³]–E[p⁴] ≈ 0.49–0.40 of these questions, and looser rules (quorum 3–4, AC ≤ 0.9) lose accuracy on questions with a strong wrong answer. ' +
      `*Replay, easier mix* replays each rule on ${meta.replayQuestions.toLocaleString('en-US')} questions with ${meta.easyMix} ` +
      `(baseline ${easyBase !== undefined ? pct(easyBase) : '?'}; closer to the Adaptive-Consistency paper’s data); ✓ = meets the target there` +
      `${easyWinners.length ? ` (${easyWinners.join('; ')})` : ''}.`,
    '',
    'Launch policy: every rule runs in waves of 1 (sampled one at a time, as in the papers), which is what saves calls; waves of 2 halve the rounds for a few more calls; ' +
      (all ? `launching all at once saves nothing (${all.receivedPerQ.toFixed(2)} calls/q received, ${all.completedPerQ.toFixed(2)} completed) because the simulator answers instantly and cancelling only stops what is still in flight` : 'launching all at once only cancels what is in flight') +
      (all && all.chargedPerQ < all.completedPerQ - 0.05 ? `; its runs’ usage/cost covered only ${all.chargedPerQ.toFixed(2)} calls/q of the ${all.completedPerQ.toFixed(2)} the provider completed.` : '.'),
    '',
    `Verification: every run was checked against an independent reference model (simulator answer from seed + index + 1 and prompt, stop point and consensus of each sequential rule, ` +
      'launched/cancelled counts per wave, statistics, stop rule and reason); ' +
      (meta.totalIssues === 0 ? 'no discrepancy, and for sequential rows the launched replicates sum exactly to the requests the simulator received.' : `**${meta.totalIssues} discrepancies** (see bench/results/quality.json).`),
    END_MARKER,
  ];
  return lines.join('\n');
}

function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, align: readonly string[]): string {
  const esc = (c: string) => c.replaceAll('|', '\\|');
  return [
    `| ${headers.map(esc).join(' | ')} |`,
    `| ${headers.map((_, i) => (align[i] === 'r' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/**
 * Replaces only the text between the quality markers (markers included) in
 * `path`, appending the block at the end when absent. Read-modify-write at
 * the last moment, so concurrent edits elsewhere in the file survive.
 */
export function updateBenchmarksMd(path: string, section: string, start = START_MARKER, end = END_MARKER): void {
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const i = doc.indexOf(start);
  const j = doc.indexOf(end, i + 1);
  const next = i >= 0 && j > i ? doc.slice(0, i) + section + doc.slice(j + end.length) : `${doc.trimEnd()}${doc.trim() ? '\n\n' : ''}${section}\n`;
  writeFileSync(path, next);
}
