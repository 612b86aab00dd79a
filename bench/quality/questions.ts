/**
 * Synthetic multiple-choice questions with known answer distributions: the
 * ground truth of the quality benchmark. Everything is derived from a seed,
 * so a rerun asks exactly the same questions.
 */
import { mulberry32, type Rng } from '../../src/providers/simulator/prng.ts';
import type { PromptRule } from '../../src/providers/simulator/types.ts';

/** One question: its prompt, the label of the right answer and the model's answer distribution. */
export interface Question {
  /** Unique token the simulator's `byPrompt` rule matches, e.g. `<r1-q017>`. */
  tag: string;
  /** The run input; contains `tag` exactly once. */
  prompt: string;
  correct: string;
  /** P(correct) for one sample. */
  pCorrect: number;
  /** Weight of the strongest wrong answer. */
  pStrongestWrong: number;
  /** Every label with its probability (sums to 1), correct first. */
  distribution: Array<{ label: string; p: number }>;
}

/** How the question set is drawn. */
export interface QuestionSpec {
  count: number;
  /** P(correct) is uniform in [pMin, pMax]. */
  pMin: number;
  pMax: number;
  /** Wrong answers per question, uniform in [wrongMin, wrongMax]. */
  wrongMin: number;
  wrongMax: number;
  /** Cap on the strongest wrong answer's probability. */
  strongCap: number;
}

export const DEFAULT_SPEC: QuestionSpec = { count: 200, pMin: 0.6, pMax: 0.95, wrongMin: 2, wrongMax: 4, strongCap: 0.35 };

/** An easier mix, nearer the benchmarks of the Adaptive-Consistency paper (many near-unanimous questions); replay only. */
export const EASY_SPEC: QuestionSpec = { ...DEFAULT_SPEC, pMin: 0.8, pMax: 0.99 };

const LABELS = ['A', 'B', 'C', 'D', 'E', 'F'];

function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * Draws `spec.count` questions for repetition `rep`. The correct label is
 * random per question (the service breaks vote ties by canonical JSON, so a
 * fixed label would bias ties towards or against the truth). The wrong mass
 * 1 − p goes to 2–4 wrong answers: the strongest takes 50–90 % of it (capped
 * at `strongCap`), the others share the rest at random.
 */
export function makeQuestions(rep: number, spec: QuestionSpec = DEFAULT_SPEC): Question[] {
  const rng = mulberry32(0x51a7 + rep * 7919);
  const out: Question[] = [];
  for (let i = 0; i < spec.count; i++) {
    const p = uniform(rng, spec.pMin, spec.pMax);
    const wrongCount = spec.wrongMin + Math.floor(rng() * (spec.wrongMax - spec.wrongMin + 1));
    const wrongMass = 1 - p;
    const strong = Math.min(spec.strongCap, wrongMass * uniform(rng, 0.5, 0.9));
    const rest = wrongMass - strong;
    const raw = Array.from({ length: wrongCount - 1 }, () => uniform(rng, 0.2, 1));
    const rawSum = raw.reduce((a, b) => a + b, 0);
    const wrongWeights = [strong, ...raw.map((w) => (rawSum > 0 ? (rest * w) / rawSum : 0))];
    const labels = shuffle(rng, LABELS.slice(0, wrongCount + 1));
    const correct = labels[0] as string;
    const tag = `<r${rep}-q${String(i).padStart(3, '0')}>`;
    out.push({
      tag,
      prompt: `Question ${tag}: which option is right? Answer with the letter only.`,
      correct,
      pCorrect: p,
      pStrongestWrong: strong,
      distribution: [{ label: correct, p }, ...wrongWeights.map((w, k) => ({ label: labels[k + 1] as string, p: w }))],
    });
  }
  return out;
}

/** The simulator rule that makes the model answer `question` with its distribution. */
export function ruleFor(q: Question): PromptRule {
  return { match: q.tag, values: q.distribution.map((d) => ({ value: { answer: d.label }, weight: d.p })) };
}
