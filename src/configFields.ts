import { z } from 'zod';
import type { ApiKeyEntry } from './auth/keys.ts';

/** Field parsers of the configuration schema (src/config.ts). */

export const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);
export const optionalString = z.string().trim().min(1).optional();

/** USD per one million tokens: one PRICING_JSON entry. */
export const ModelPriceSchema = z.object({ input: z.number().min(0), output: z.number().min(0) });
/** A model's price, USD per 1M input and output tokens. */
export type ModelPrice = z.infer<typeof ModelPriceSchema>;

/** PRICING_JSON, parsed and checked here once: `{ "model": { "input": usdPer1M, "output": usdPer1M } }`. */
export const pricingJson = z
  .string()
  .trim()
  .min(1)
  .transform((text, ctx): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string(), ModelPriceSchema, { error: 'expected {"model": {"input": number >= 0, "output": number >= 0}}' }))
  .optional();

/** OTEL_EXPORTER_OTLP_HEADERS: `k=v,k2=v2`, values URL-encoded as the OTel spec allows. */
export const otlpHeaders = optionalString.transform((spec, ctx) => {
  if (spec === undefined) return undefined;
  const headers: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    if (eq <= 0 || key === '') {
      ctx.addIssue({ code: 'custom', message: 'expected key=value pairs separated by commas' });
      return z.NEVER;
    }
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not URL-encoded: taken as written.
    }
    headers[key] = value;
  }
  return Object.freeze(headers);
});

/** `*`, or an origin as browsers send it (`scheme://host[:port]`, nothing after). */
export function isOriginSpec(origin: string): boolean {
  if (origin === '*') return true;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === origin.replace(/\/+$/, '');
  } catch {
    return false;
  }
}

/** Parses one source of keys, turning a parse error into a config issue (which names the entry, never the key). */
export function parseKeys(text: string, parse: (text: string) => ApiKeyEntry[], ctx: z.RefinementCtx): ApiKeyEntry[] {
  try {
    return Object.freeze(parse(text)) as ApiKeyEntry[];
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
}
