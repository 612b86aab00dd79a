/** Where a value is going: logs always get redacted, events only when configured. */
export type RedactionTarget = 'log' | 'event';

/** A redaction hook: returns the value with sensitive parts masked. */
export type Redactor = (value: unknown, target: RedactionTarget) => unknown;

/** Credentials that must never leave the process in clear. */
const ALWAYS = [/\bsk-[A-Za-z0-9_-]{8,}/g, /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi, /\bstream_token=[^&\s"']+/gi];

/** Masks API keys and bearer tokens in a text (provider error messages echo keys back). */
export function maskSecrets(text: string): string {
  let out = text;
  for (const re of ALWAYS) out = out.replace(re, '[REDACTED]');
  return out;
}

/**
 * Builds the default redactor: masks API keys and bearer tokens always, and
 * every match of `patterns` (REDACT_PATTERNS). Walks objects and arrays;
 * leaves non-strings alone.
 */
export function patternRedactor(patterns: RegExp[] = []): Redactor {
  const all = [...ALWAYS, ...patterns.map((p) => new RegExp(p.source, p.flags.includes('g') ? p.flags : `${p.flags}g`))];
  const redactString = (s: string): string => {
    let out = s;
    for (const re of all) out = out.replace(re, '[REDACTED]');
    return out;
  };
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return redactString(value);
    if (depth > 32 || value === null || typeof value !== 'object') return value;
    if (value instanceof Error) {
      // Errors keep their shape for the log serializer, with texts masked.
      const e = value as Error & { code?: unknown };
      return { type: e.name, message: redactString(e.message), stack: e.stack ? redactString(e.stack) : undefined, code: e.code };
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, depth + 1);
    return out;
  };
  return (value) => walk(value, 0);
}

/** Parses REDACT_PATTERNS (comma-separated regular expressions). */
export function parseRedactPatterns(spec: string | undefined): RegExp[] {
  if (!spec) return [];
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((source) => new RegExp(source, 'g'));
}
