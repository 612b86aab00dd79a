/**
 * The cross-model quality scenario of `npm run bench:quality`: three
 * simulated models (bench/quality/panel.ts) answer the same questions, each
 * alone with N replicates (N-vote) and together as a panel of N replicates
 * spread across them (`agent.models`), with equal weights and with weights
 * learned from agreement on a separate calibration set (`merge.weights`; the
 * answer key is never used to learn them). Every run goes through the real
 * service (HTTP → orchestrator → OpenAI SDK → simulator), so the table
 * measures what a caller gets.
 */
import { startTestService } from '../../test/helpers/service.ts';
import { mulberry32 } from '../../src/providers/simulator/prng.ts';
import { makePanelQuestions, panelAnswer, PANEL_MODELS, weightsFromAgreement, type PanelQuestion } from './panel.ts';

export const PANEL_START = '<!-- quality-panel:start -->';
export const PANEL_END = '<!-- quality-panel:end -->';

const OUTPUT_SCHEMA = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };

interface Item {
  q: PanelQuestion;
  seed: number;
}

/** One configuration of the table. */
interface PanelConfig {
  id: string;
  label: string;
  agent: Record<string, unknown>;
  merge?: Record<string, unknown>;
}

export interface PanelRow {
  id: string;
  label: string;
  questions: number;
  accuracy: number;
  accuracySe: number;
  callsPerQ: number;
  failedRuns: number;
}

export interface PanelOutcome {
  replicates: number;
  calibrationQuestions: number;
  weights: Record<string, number>;
  rows: PanelRow[];
  wallSeconds: number;
}

interface ReplicateBody {
  status: string;
  model?: string;
  output: { answer?: unknown } | null;
}

interface PanelRunBody {
  status: string;
  output: { answer?: unknown } | null;
  bundle: { replicates: ReplicateBody[] } | null;
}

async function pool<T>(list: readonly T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      await fn(list[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, list.length) }, worker));
}

function itemsOf(reps: readonly number[], count: number): Item[] {
  return reps.flatMap((rep) =>
    makePanelQuestions(rep, PANEL_MODELS, { count, sharedSd: 0.6, ownSd: 1.2, sharedWrong: 0.45 }).map((q, i) => ({ q, seed: (rep * 1_000_003 + i * 7_919 + 29) % 2 ** 31 })),
  );
}

/** Runs the scenario against a service of its own; `count` questions per set, `sets` evaluation sets. */
export async function runPanelScenario(options: { count: number; sets: number; replicates: number; concurrency: number }): Promise<PanelOutcome> {
  const t0 = performance.now();
  const models = PANEL_MODELS.map((m) => m.name);
  const calibration = itemsOf([900], options.count);
  const evaluation = itemsOf(
    Array.from({ length: options.sets }, (_, i) => 901 + i),
    options.count,
  );
  const byTag = new Map<string, PanelQuestion>();
  for (const it of [...calibration, ...evaluation]) byTag.set(it.q.tag, it.q);
  const fallback = mulberry32(7);

  const svc = await startTestService({
    env: { LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '0', MAX_CONCURRENCY: '24', MAX_RUNS: '500', DEFAULT_TIMEOUT_MS: '60000' },
    behavior: {
      latencyMs: 0,
      answers: {
        kind: 'function',
        fn: (ctx) => {
          const tag = /<panel-[^>]+>/.exec(ctx.prompt)?.[0];
          const q = tag ? byTag.get(tag) : undefined;
          return { answer: q ? panelAnswer(q, ctx.model, ctx.seed, fallback) : 'A' };
        },
      },
    },
  });

  async function post(cfg: PanelConfig, it: Item): Promise<PanelRunBody> {
    const body = { input: it.q.prompt, replicates: options.replicates, seed: it.seed, agent: { output_schema: OUTPUT_SCHEMA, ...cfg.agent }, ...(cfg.merge ? { merge: cfg.merge } : {}) };
    const res = await fetch(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200) return { status: `http ${res.status}: ${text.slice(0, 200)}`, output: null, bundle: null };
    return JSON.parse(text) as PanelRunBody;
  }

  async function measure(cfg: PanelConfig, items: readonly Item[]): Promise<{ row: PanelRow; bodies: PanelRunBody[] }> {
    const before = svc.sim.stats().received;
    const bodies: PanelRunBody[] = new Array(items.length);
    await pool(items, options.concurrency, async (it, i) => {
      bodies[i] = await post(cfg, it);
    });
    await svc.sim.waitForIdle();
    const calls = svc.sim.stats().received - before;
    const right = bodies.filter((b, i) => b.status === 'succeeded' && b.output?.answer === items[i]?.q.correct).length;
    const n = items.length;
    const acc = right / n;
    const row = { id: cfg.id, label: cfg.label, questions: n, accuracy: acc, accuracySe: Math.sqrt((acc * (1 - acc)) / n), callsPerQ: calls / n, failedRuns: bodies.filter((b) => b.status !== 'succeeded').length };
    console.error(`${cfg.id.padEnd(16)} acc ${(acc * 100).toFixed(2)}%  calls/q ${row.callsPerQ.toFixed(2)}  failed ${row.failedRuns}`);
    if (row.failedRuns) console.error(`  first failure: ${bodies.find((b) => b.status !== 'succeeded')?.status}`);
    return { row, bodies };
  }

  const rows: PanelRow[] = [];
  let weights: Record<string, number> = {};
  try {
    const equal: PanelConfig = { id: 'panel-equal', label: `panel of 3, ${options.replicates} replicates, equal weights`, agent: { models } };
    // Calibration: the equal panel on questions of their own; per model, the answers it gave.
    const cal = await measure(equal, calibration);
    const answers = cal.bodies.map((b) => {
      const per: Record<string, string[]> = {};
      for (const r of b.bundle?.replicates ?? []) {
        const a = r.output?.answer;
        if (r.status === 'succeeded' && typeof r.model === 'string' && typeof a === 'string') (per[r.model] ??= []).push(a);
      }
      return per;
    });
    weights = weightsFromAgreement(answers, models);
    const configs: PanelConfig[] = [
      ...models.map((m) => ({ id: `single-${m}`, label: `${m} alone, ${options.replicates}-vote`, agent: { model: m } })),
      equal,
      { id: 'panel-weighted', label: `panel of 3, ${options.replicates} replicates, learned weights`, agent: { models }, merge: { weights } },
    ];
    for (const cfg of configs) rows.push((await measure(cfg, evaluation)).row);
  } finally {
    await svc.close();
  }
  return { replicates: options.replicates, calibrationQuestions: calibration.length, weights, rows, wallSeconds: (performance.now() - t0) / 1000 };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The Markdown section between {@link PANEL_START} and {@link PANEL_END}. */
export function renderPanelSection(outcome: PanelOutcome, meta: { command: string; date: string; node: string }): string {
  const singles = outcome.rows.filter((r) => r.id.startsWith('single-'));
  const best = singles.reduce((a, b) => (b.accuracy > a.accuracy ? b : a), singles[0] as PanelRow);
  const panels = outcome.rows.filter((r) => r.id.startsWith('panel-'));
  const lines = [
    PANEL_START,
    '<!-- generated by `npm run bench:quality`; edits inside these markers are overwritten -->',
    '## Cross-model panels',
    '',
    `\`${meta.command}\` — ${meta.date}, Node ${meta.node}; ${outcome.wallSeconds.toFixed(0)} s. Three simulated models (bench/quality/panel.ts: mean accuracies ${PANEL_MODELS.map((m) => `${m.name} ${m.accuracy}`).join(', ')}; errors partly shared: a question's difficulty and its attractive wrong answer are common to all models), 5 options per question. Every run goes through the service; a panel run spreads its ${outcome.replicates} replicates round-robin over the three models (\`agent.models\`). The learned weights come from agreement between models on ${outcome.calibrationQuestions} separate calibration questions, never from the answer key: ${Object.entries(outcome.weights).map(([m, w]) => `${m} ${w}`).join(', ')}.`,
    '',
    '| configuration | questions | accuracy (± s.e.) | provider calls per question | vs best single model |',
    '|---|---|---|---|---|',
    ...outcome.rows.map((r) => `| ${r.label} | ${r.questions} | ${pct(r.accuracy)} ± ${(r.accuracySe * 100).toFixed(1)} | ${r.callsPerQ.toFixed(2)} | ${r === best ? 'best single' : `${r.accuracy >= best.accuracy ? '+' : '−'}${Math.abs((r.accuracy - best.accuracy) * 100).toFixed(1)} pp`} |`),
    '',
    `Target (issue 15): a panel beats the best single model's ${outcome.replicates}-vote accuracy at equal cost — ${panels.some((p) => p.accuracy > best.accuracy && p.callsPerQ <= best.callsPerQ + 1e-9) ? '**met**' : '**not met**'} (${panels.map((p) => `${p.id} ${pct(p.accuracy)}`).join(', ')} against ${best.id} ${pct(best.accuracy)}, at ${best.callsPerQ.toFixed(2)} calls per question).`,
    PANEL_END,
  ];
  return lines.join('\n');
}
