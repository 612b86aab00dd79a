/**
 * Error messages echo what the caller sent ("tool_version \"…\" is not a
 * semver range"), and a caller can send a megabyte. Every echo goes through
 * {@link truncateForMessage}, so an error answer stays small whatever came in.
 */

/** Characters of caller input an error message echoes, at most. */
export const MAX_ECHO_CHARS = 200;

/**
 * `text` cut to `max` characters (no surrogate half left at the cut), with
 * the original length said: `abc… (5009 characters)`.
 */
export function truncateForMessage(text: string, max = MAX_ECHO_CHARS): string {
  if (text.length <= max) return text;
  let cut = max;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}… (${text.length} characters)`;
}

/** {@link truncateForMessage} of `JSON.stringify`-quoted text, for `"value"` echoes. */
export function quoteForMessage(text: string, max = MAX_ECHO_CHARS): string {
  return JSON.stringify(truncateForMessage(text, max));
}
