/**
 * The vote for a free-text root: answers count as the same when they
 * normalise to the same text, and without a strict majority the medoid
 * answer wins, since a plurality of one among many paraphrases says little.
 */
import { canonicalJson } from './canonical.ts';
import { dedupeTexts } from './dedupe.ts';
import { compareNumbers, compareText } from './order.ts';
import type { Sample } from './samples.ts';
import { TextComparer } from './textComparer.ts';
import type { TextProfile } from './textProfile.ts';

/** Textual distance under which two free-text answers count as the same answer. */
const NEAR_DUPLICATE = 0.1;

/** One distinct normalised answer. */
export interface TextVote {
  /** Normalised text. */
  readonly key: string;
  /** The most common spelling among its replicates (ties by canonical JSON). */
  readonly value: string;
  /** Replicate indices, ascending. */
  readonly replicates: number[];
}

/** The answers ordered by support (desc) then canonical JSON, and the winner. */
export interface TextVoteResult {
  readonly votes: TextVote[];
  readonly winner: TextVote;
}

/**
 * Votes over string samples (at least one). `textMetric` `null` means the
 * default textual distance over cached profiles; a custom metric is called
 * on the representative spellings.
 */
export function voteFreeText(
  samples: readonly Sample[],
  textMetric: ((a: string, b: string) => number) | null,
  texts: TextComparer = new TextComparer(),
): TextVoteResult {
  if (samples.length === 1) {
    // A lone answer is the only vote and wins outright: what the general path below returns, without its grouping and sorting.
    const only = samples[0] as Sample;
    const value = only.value as string;
    const replicates = [only.index];
    const key = texts.normalized(value);
    return { votes: [{ key, value, replicates }], winner: { key, value, replicates } };
  }
  // Near-identical answers (same text up to case, spacing, punctuation or a
  // word or two) are one answer: deduplicate before counting votes.
  const byIndex = new Map(samples.map((s) => [s.index, s.value as string]));
  const byText = new Map<string, { spellings: Map<string, number>; replicates: number[] }>();
  for (const group of dedupeTexts(samples.map((s) => ({ index: s.index, output: s.value as string })), NEAR_DUPLICATE, texts)) {
    const spellings = new Map<string, number>();
    for (const i of group.members) {
      const text = byIndex.get(i) as string;
      spellings.set(text, (spellings.get(text) ?? 0) + 1);
    }
    byText.set(texts.normalized(byIndex.get(group.representative) as string), { spellings, replicates: [...group.members] });
  }
  const votes = [...byText]
    .map(([key, g]) => {
      const value = [...g.spellings]
        .map(([text, count]) => ({ text, count, order: canonicalJson(text) }))
        .sort((a, b) => b.count - a.count || compareText(a.order, b.order))[0]?.text ?? key;
      return { key, value, order: canonicalJson(value), replicates: g.replicates.sort(compareNumbers) };
    })
    .sort((a, b) => b.replicates.length - a.replicates.length || compareText(a.order, b.order));
  const top = votes[0];
  if (top === undefined) throw new RangeError('voteFreeText: no samples');
  const chosen = top.replicates.length * 2 > samples.length ? top : medoid(votes, textMetric, texts);
  const strip = ({ key, value, replicates }: TextVote): TextVote => ({ key, value, replicates });
  return { votes: votes.map(strip), winner: strip(chosen) };
}

/**
 * The answer with the least support-weighted summed distance to all others.
 * Candidates are scanned in canonical order and only a strictly smaller sum
 * replaces the best, so ties go to the canonically first answer.
 */
function medoid<T extends TextVote & { order: string }>(
  votes: readonly T[],
  textMetric: ((a: string, b: string) => number) | null,
  texts: TextComparer,
): T {
  const profiles = textMetric === null ? votes.map((v) => texts.profile(v.value)) : [];
  const distance = (i: number, j: number): number =>
    textMetric === null
      ? texts.distance(profiles[i] as TextProfile, profiles[j] as TextProfile)
      : textMetric((votes[i] as T).value, (votes[j] as T).value);
  const candidates = votes.map((_, i) => i).sort((a, b) => compareText((votes[a] as T).order, (votes[b] as T).order));
  let best = Number.POSITIVE_INFINITY;
  let bestIndex = candidates[0] ?? 0;
  for (const i of candidates) {
    let sum = 0;
    // Summing in vote order (not candidate order) keeps the float result independent of the scan.
    for (let j = 0; j < votes.length; j++) if (j !== i) sum += (votes[j] as T).replicates.length * distance(i, j);
    if (sum < best) {
      best = sum;
      bestIndex = i;
    }
  }
  return votes[bestIndex] as T;
}
