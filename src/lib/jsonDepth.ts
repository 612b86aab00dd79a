/**
 * The nesting bound of request bodies (MAX_JSON_DEPTH), checked on the raw
 * text before it is parsed: one linear scan with no allocation, so a
 * 20,000-deep `options` is refused for the cost of reading it, and nothing
 * after the parser (canonical JSON, redaction, the merge, `JSON.stringify`
 * of a stored record) ever sees deeper input from a caller.
 */
import { ServiceError } from '../errors.ts';

/**
 * True when `text` nests arrays/objects more than `max` deep. Brackets
 * inside strings (with escapes) do not count. Not a JSON validator: text
 * that is not JSON is left for the parser to refuse.
 */
export function exceedsJsonDepth(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The 400 for a body past `max` levels, or `null` when it is within the bound. */
export function jsonDepthError(text: string, max: number): ServiceError | null {
  return exceedsJsonDepth(text, max)
    ? new ServiceError('invalid_request', `the request body nests objects/arrays more than ${max} levels deep (MAX_JSON_DEPTH)`)
    : null;
}
