/**
 * The world of the cross-model quality benchmark: three simulated models
 * of different accuracy answering the same multiple-choice questions, with
 * errors that are partly shared (a question's difficulty and its attractive
 * wrong answer are the same for every model) and partly the model's own (a
 * per-model, per-question skill offset and a model-specific wrong answer).
 * Everything derives from seeds, so a rerun asks the same questions and the
 * simulator gives the same answers.
 */
import { mulberry32, pickWeighted, rngFor, type Rng } from '../../src/providers/simulator/prng.ts';

/** A simulated model: its name and mean probability of a right answer. */
export interface PanelModel {
  name: string;
  accuracy: number;
}

/** The default panel: one strong, one middling, one weak model. */
export const PANEL_MODELS: readonly PanelModel[] = [
  { name: 'sim-strong', accuracy: 0.62 },
  { name: 'sim-mid', accuracy: 0.56 },
  { name: 'sim-weak', accuracy: 0.5 },
];

/** How the questions' error structure is drawn. */
export interface PanelSpec {
  count: number;
  /** Spread of the shared difficulty (added to every model's logit). */
  sharedSd: number;
  /** Spread of each model's own per-question skill (the part panels average out). */
  ownSd: number;
  /** Share of a model's wrong mass going to the question's shared attractive wrong answer. */
  sharedWrong: number;
}

export const DEFAULT_PANEL_SPEC: PanelSpec = { count: 200, sharedSd: 0.6, ownSd: 1.2, sharedWrong: 0.45 };

const LABELS = ['A', 'B', 'C', 'D', 'E'];

/** One question and, per model, its answer distribution. */
export interface PanelQuestion {
  tag: string;
  prompt: string;
  correct: string;
  /** model name → [{label, p}] summing to 1. */
  distributions: Record<string, Array<{ label: string; p: number }>>;
}

function gaussian(rng: Rng): number {
  // Box–Muller; 1 - u keeps log away from 0.
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const logit = (p: number) => Math.log(p / (1 - p));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Draws the questions of set `rep` for `models`. */
export function makePanelQuestions(rep: number, models: readonly PanelModel[] = PANEL_MODELS, spec: PanelSpec = DEFAULT_PANEL_SPEC): PanelQuestion[] {
  const rng = mulberry32(0x9a7e1 + rep * 104_729);
  const out: PanelQuestion[] = [];
  for (let i = 0; i < spec.count; i++) {
    const labels = [...LABELS];
    for (let k = labels.length - 1; k > 0; k--) {
      const j = Math.floor(rng() * (k + 1));
      [labels[k], labels[j]] = [labels[j] as string, labels[k] as string];
    }
    const [correct, shared, ...others] = labels as [string, string, ...string[]];
    const difficulty = gaussian(rng) * spec.sharedSd;
    const distributions: PanelQuestion['distributions'] = {};
    for (const m of models) {
      const p = sigmoid(logit(m.accuracy) + difficulty + gaussian(rng) * spec.ownSd);
      const own = others[Math.floor(rng() * others.length)] as string;
      const wrong = 1 - p;
      const rest = others.filter((l) => l !== own);
      const spread = (wrong * (1 - spec.sharedWrong)) / 2;
      distributions[m.name] = [
        { label: correct, p },
        { label: shared, p: wrong * spec.sharedWrong },
        { label: own, p: spread },
        ...rest.map((l) => ({ label: l, p: spread / rest.length })),
      ];
    }
    const tag = `<panel-r${rep}-q${String(i).padStart(3, '0')}>`;
    out.push({ tag, prompt: `Question ${tag}: which option is right? Answer with the letter only.`, correct, distributions });
  }
  return out;
}

/** The answer a model gives to a question for a given seed (what the simulator's function answer returns). */
export function panelAnswer(q: PanelQuestion, model: string, seed: number | null, fallback: Rng): string {
  const dist = q.distributions[model] ?? q.distributions[Object.keys(q.distributions)[0] as string] ?? [];
  const rng = seed === null ? fallback : rngFor(seed, q.prompt);
  return pickWeighted(rng, dist.map((d) => ({ label: d.label, weight: d.p }))).label;
}

/**
 * Model weights learned from agreement alone (no answer key): each model's
 * accuracy is estimated as how often its answers match the plurality of the
 * other models' answers on the same questions, then weighted by log-odds
 * over the chance of a random agreement (Nitzan–Paroush: the optimal weights
 * of independent voters). One step of Dawid–Skene, in effect.
 *
 * @param answers per question, per model, the labels it gave.
 */
export function weightsFromAgreement(answers: ReadonlyArray<Record<string, readonly string[]>>, models: readonly string[], labels = LABELS.length): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of models) {
    let agree = 0;
    let total = 0;
    for (const q of answers) {
      const others = models.filter((x) => x !== m).flatMap((x) => q[x] ?? []);
      const counts = new Map<string, number>();
      for (const l of others) counts.set(l, (counts.get(l) ?? 0) + 1);
      const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
      if (top === undefined) continue;
      for (const l of q[m] ?? []) {
        total++;
        if (l === top) agree++;
      }
    }
    const a = Math.min(0.99, Math.max(1 / labels + 0.01, (agree + 1) / (total + 2)));
    out[m] = Math.round(Math.log((a * (labels - 1)) / (1 - a)) * 1000) / 1000;
  }
  return out;
}
