import { RE2JS } from 're2js';
import { truncateForMessage } from './truncate.ts';

/** Where a value is going: logs always get redacted, events and results only when configured. */
export type RedactionTarget = 'log' | 'event' | 'result';

/** A redaction hook: returns the value with sensitive parts masked. */
export type Redactor = (value: unknown, target: RedactionTarget) => unknown;

/** A compiled REDACT_PATTERNS entry (RE2: matching is linear in the text, whatever the pattern). */
export interface RedactPattern {
  readonly source: string;
  readonly re: RE2JS;
}

const MASK = '[REDACTED]';

/**
 * Credentials that must never leave the process in clear. Ours and fixed,
 * without nested quantifiers (linear on V8's engine), so they stay native
 * RegExps on the hot logging path; only operator patterns go through RE2.
 */
const ALWAYS = [/\bsk-[A-Za-z0-9_-]{8,}/g, /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi, /\bstream_token=[^&\s"']+/gi];

/** Masks API keys and bearer tokens in a text (provider error messages echo keys back). */
export function maskSecrets(text: string): string {
  let out = text;
  for (const re of ALWAYS) out = out.replace(re, MASK);
  return out;
}

/**
 * Compiles REDACT_PATTERNS (comma-separated) with RE2. Called once, by the
 * config schema, so a bad entry stops the service at startup.
 *
 * @throws Error naming the entry that does not compile.
 */
export function compileRedactPatterns(spec: string | undefined): RedactPattern[] {
  if (!spec) return [];
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((source) => {
      try {
        return { source, re: RE2JS.compile(RE2JS.translateRegExp(source)) };
      } catch (error) {
        throw new Error(`REDACT_PATTERNS entry ${JSON.stringify(truncateForMessage(source, 100))} is not a valid RE2 regular expression: ${(error as Error).message}`, {
          cause: error,
        });
      }
    });
}

/**
 * REDACT_PATTERNS as the config holds them (already compiled); a string is
 * compiled here, for callers that build a redactor without a config.
 */
export function parseRedactPatterns(spec: string | readonly RedactPattern[] | undefined): RedactPattern[] {
  return typeof spec === 'string' || spec === undefined ? compileRedactPatterns(spec) : [...spec];
}

/** Sets `key` as an own data property even when it is `__proto__` (plain assignment would set the prototype). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Builds the default redactor: masks API keys and bearer tokens always, and
 * every match of `patterns` (REDACT_PATTERNS), in strings at any depth and
 * in object keys (a masked key becomes `[REDACTED]`, numbered when several
 * collide). The walk is iterative, so no nesting overflows the stack; every
 * key it does not mask is kept (`__proto__` included, as own data); shared
 * and cyclic references come out shared and cyclic, as they went in.
 */
export function patternRedactor(patterns: readonly RedactPattern[] = []): Redactor {
  const custom = [...patterns];
  const redactString = (s: string): string => {
    let out = maskSecrets(s);
    for (const { re } of custom) if (re.test(out)) out = re.matcher(out).replaceAll(MASK);
    return out;
  };
  return (input) => {
    if (typeof input === 'string') return redactString(input);
    if (input === null || typeof input !== 'object') return input;
    const copies = new Map<object, unknown>();
    /** Work items: copy `source`'s children into `target`. */
    const work: { source: object; target: Record<string, unknown> | unknown[] }[] = [];
    const visit = (value: unknown): unknown => {
      if (typeof value === 'string') return redactString(value);
      if (value === null || typeof value !== 'object') return value;
      const known = copies.get(value);
      if (known !== undefined) return known;
      if (value instanceof Error) {
        // Errors keep their shape for the log serializer, with texts masked.
        const e = value as Error & { code?: unknown };
        const copy = { type: e.name, message: redactString(e.message), stack: e.stack ? redactString(e.stack) : undefined, code: e.code };
        copies.set(value, copy);
        return copy;
      }
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (!Array.isArray(value) && typeof toJSON === 'function') {
        // Dates and the like: what they serialise to is what leaves the process.
        const copy = visit((toJSON as () => unknown).call(value));
        copies.set(value, copy);
        return copy;
      }
      const target: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
      copies.set(value, target);
      work.push({ source: value, target });
      return target;
    };
    const root = visit(input);
    while (work.length > 0) {
      const { source, target } = work.pop() as (typeof work)[number];
      if (Array.isArray(target)) {
        for (const item of source as unknown[]) target.push(visit(item));
        continue;
      }
      for (const [k, v] of Object.entries(source)) {
        let key = redactString(k);
        if (key !== k) for (let n = 2; Object.hasOwn(target, key); n++) key = `${MASK}-${n}`;
        define(target, key, visit(v));
      }
    }
    return root;
  };
}
