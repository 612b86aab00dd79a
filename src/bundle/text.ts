/**
 * Free-text normalisation shared by the textual distance, the vote keys of
 * early stopping and the top-level text vote of the merge: all three must
 * agree on when two answers are "the same answer".
 */

const APOSTROPHES = /['\u2018\u2019\u02bc`]/gu;
const PUNCTUATION_OR_SYMBOL = /[\p{P}\p{S}]+/gu;
const WHITESPACE = /\s+/gu;

/**
 * Lower-cases (locale-independently), applies NFKC, removes apostrophes
 * ("don't" = "dont"), turns other punctuation and symbols into spaces and
 * collapses whitespace. "Paris." and "  paris " normalise to the same text.
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(APOSTROPHES, '')
    .replace(PUNCTUATION_OR_SYMBOL, ' ')
    .replace(WHITESPACE, ' ')
    .trim();
}
