/**
 * Grouping of near-identical free-text answers, so a bundle can show "4
 * replicates said essentially this" instead of four copies of a paragraph.
 */
import { compareNumbers } from './order.ts';
import { TextComparer } from './textComparer.ts';
import type { TextProfile } from './textProfile.ts';

/** A free-text replicate answer. */
export interface TextEntry {
  /** Replicate index (integer, unique). */
  readonly index: number;
  /** The answer text. */
  readonly output: string;
}

/** Replicates whose answers are near-identical. */
export interface TextGroup {
  /** Smallest member index. */
  representative: number;
  /** Member indices, ascending. */
  members: number[];
}

/**
 * Single-linkage grouping: two answers are linked when they normalise to
 * the same text or their {@link textualDistance} is ≤ `threshold`, and groups
 * are the connected components. Components do not depend on the order in
 * which pairs are examined, which is what makes the result order-independent;
 * the price is that a chain of small edits can join two distant answers.
 * Groups are sorted by representative.
 *
 * @throws RangeError on a non-integer or duplicate index.
 */
export function dedupeTexts(entries: readonly TextEntry[], threshold = 0.1, texts: TextComparer = new TextComparer()): TextGroup[] {
  const seen = new Set<number>();
  for (const e of entries) {
    if (!Number.isInteger(e.index)) throw new RangeError(`dedupeTexts: index must be an integer, got ${e.index}`);
    if (seen.has(e.index)) throw new RangeError(`dedupeTexts: duplicate index ${e.index}`);
    seen.add(e.index);
  }
  // Equal normalised texts are linked for free; compare each distinct text only once.
  const byText = new Map<string, number[]>();
  for (const e of entries) {
    const norm = texts.normalized(e.output);
    const members = byText.get(norm);
    if (members === undefined) byText.set(norm, [e.index]);
    else members.push(e.index);
  }
  const distinct = [...byText.keys()];
  // One profile per distinct text (and one distance per pair, across calls sharing `texts`);
  // a single distinct text is compared with nothing, so it needs none.
  const profiles = distinct.length > 1 ? distinct.map((t) => texts.profile(t)) : [];
  const parent = distinct.map((_, i) => i);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    // Path compression keeps repeated finds near-constant.
    let c = i;
    while (parent[c] !== r) {
      const next = parent[c] as number;
      parent[c] = r;
      c = next;
    }
    return r;
  };
  for (let i = 0; i < distinct.length; i++) {
    for (let j = i + 1; j < distinct.length; j++) {
      if (find(i) === find(j)) continue;
      if (texts.distance(profiles[i] as TextProfile, profiles[j] as TextProfile) <= threshold) parent[find(j)] = find(i);
    }
  }
  const components = new Map<number, number[]>();
  distinct.forEach((text, i) => {
    const root = find(i);
    const members = components.get(root) ?? [];
    members.push(...(byText.get(text) ?? []));
    components.set(root, members);
  });
  return [...components.values()]
    .map((members) => members.sort(compareNumbers))
    .map((members) => ({ representative: members[0] as number, members }))
    .sort((a, b) => compareNumbers(a.representative, b.representative));
}
