/**
 * Precomputed text features for {@link profileDistance}. Normalising a text
 * and counting its words and trigrams dominates the cost of a text
 * comparison, so callers that compare one text against many (the pairwise
 * matrix, the medoid search) build each profile once.
 */
import { normalizeText } from './text.ts';

/** A text's normalised form plus its word and character-trigram counts. */
export interface TextProfile {
  /** Output of {@link normalizeText}. */
  readonly normalized: string;
  /** Word multiset. */
  readonly words: ReadonlyMap<string, number>;
  /** Character-trigram multiset of the space-padded normalised text. */
  readonly grams: ReadonlyMap<string, number>;
}

/**
 * Floor for texts that normalise differently but share every word and
 * trigram (e.g. "a b a c a" and "a c a b a"): 0 must keep meaning "same
 * answer" for the early-stopping epsilon, yet the value is too small to
 * matter for any threshold.
 */
const MIN_DISTINCT_TEXT_DISTANCE = 1e-6;

/** Builds the profile of one text. */
export function textProfile(text: string): TextProfile {
  return profileOfNormalized(normalizeText(text));
}

/** The profile of a text already passed through {@link normalizeText}. */
export function profileOfNormalized(normalized: string): TextProfile {
  const words = new Map<string, number>();
  const grams = new Map<string, number>();
  if (normalized !== '') {
    for (const w of normalized.split(' ')) words.set(w, (words.get(w) ?? 0) + 1);
    // Padding lets one-word texts still produce trigrams and marks word edges.
    const padded = ` ${normalized} `;
    for (let i = 0; i + 3 <= padded.length; i++) {
      const g = padded.slice(i, i + 3);
      grams.set(g, (grams.get(g) ?? 0) + 1);
    }
  }
  return { normalized, words, grams };
}

/**
 * Mean of (1 − multiset Jaccard) over words and over trigrams; 0 exactly
 * when the normalised texts are equal, 1 when exactly one is empty.
 */
export function profileDistance(a: TextProfile, b: TextProfile): number {
  if (a.normalized === b.normalized) return 0;
  if (a.normalized === '' || b.normalized === '') return 1;
  const d = 0.5 * (1 - multisetJaccard(a.words, b.words)) + 0.5 * (1 - multisetJaccard(a.grams, b.grams));
  return Math.min(1, Math.max(MIN_DISTINCT_TEXT_DISTANCE, d));
}

/**
 * Σ min / Σ max over counts. Both sums are integers, so the ratio is exactly
 * the same for (a, b) and (b, a) whichever map is iterated.
 */
export function multisetJaccard(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let inter = 0;
  let smallTotal = 0;
  let largeTotal = 0;
  for (const c of large.values()) largeTotal += c;
  for (const [k, cs] of small) {
    smallTotal += cs;
    inter += Math.min(cs, large.get(k) ?? 0);
  }
  // Σ max = Σ a + Σ b − Σ min, which avoids a second pass over the union.
  const union = smallTotal + largeTotal - inter;
  return union === 0 ? 1 : inter / union;
}
