import { z } from 'zod';

/**
 * What a model accepts. Unset fields inherit (file pattern → family
 * default → accepted), so a file only says what differs.
 */
export const CapabilitiesSchema = z.strictObject({
  /** Accepts a `seed` (chat completions; the Responses API never takes one). */
  seed: z.boolean().optional(),
  /** Accepts `temperature` other than its default. */
  temperature: z.boolean().optional(),
  /** Structured outputs: `response_format: json_schema`. */
  json_schema: z.boolean().optional(),
  /** JSON mode: `response_format: json_object`. */
  json_object: z.boolean().optional(),
});

export type Capabilities = z.infer<typeof CapabilitiesSchema>;

/** Every capability decided. */
export type ResolvedCapabilities = Required<Capabilities>;

const ALL: ResolvedCapabilities = { seed: true, temperature: true, json_schema: true, json_object: true };

/**
 * Defaults for well-known model families, checked in order (the first
 * matching pattern wins). OpenAI's reasoning models (o1, o3, o4, gpt-5) take
 * no temperature; o1-mini and o1-preview took no structured outputs.
 * Anything else is assumed to accept everything until a file says otherwise.
 */
export const FAMILY_CAPABILITIES: ReadonlyArray<readonly [pattern: string, caps: Capabilities]> = [
  ['o1-mini*', { temperature: false, json_schema: false, json_object: false }],
  ['o1-preview*', { temperature: false, json_schema: false, json_object: false }],
  ['o1*', { temperature: false }],
  ['o3*', { temperature: false }],
  ['o4*', { temperature: false }],
  ['gpt-5*', { temperature: false }],
];

/** A glob (`*` = any run of characters, nothing else special) as an anchored, linear-time test. */
export function globMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === name;
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (!name.startsWith(first) || name.length < first.length + last.length || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = name.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/**
 * The capabilities of `model`: the family default, then every matching
 * entry of the provider's file in order (later entries override earlier).
 */
export function capabilitiesFor(model: string, declared: Record<string, Capabilities> = {}): ResolvedCapabilities {
  const family = FAMILY_CAPABILITIES.find(([pattern]) => globMatches(pattern, model))?.[1] ?? {};
  let caps: ResolvedCapabilities = { ...ALL, ...definedOnly(family) };
  for (const [pattern, c] of Object.entries(declared)) if (globMatches(pattern, model)) caps = { ...caps, ...definedOnly(c) };
  return caps;
}

/** What a replicate asks of its model before capabilities are applied. */
export interface CallWishes {
  seed?: number | undefined;
  temperature?: number | undefined;
  /** An output schema was given. */
  structured: boolean;
  api: 'chat_completions' | 'responses';
}

/** How structure is obtained: the provider enforces the schema, returns some JSON, or only the prompt asks for it. */
export type StructureMode = 'json_schema' | 'json_object' | 'prompt';

/** What is sent, and what was given up on the way (reported on the replicate as `warnings`). */
export interface CallPlan {
  seed: number | undefined;
  temperature: number | undefined;
  structure: StructureMode | null;
  warnings: string[];
}

/**
 * Fits a call to its model: unsupported parameters are left out (with a
 * warning), and structure falls back from json_schema to json_object to
 * instructions in the prompt; the output is validated against the schema
 * either way, so a degraded feature never loosens what a valid replicate is.
 */
export function planCall(wishes: CallWishes, caps: ResolvedCapabilities): CallPlan {
  const warnings: string[] = [];
  let seed = wishes.seed;
  if (seed !== undefined && (wishes.api === 'responses' || !caps.seed)) {
    seed = undefined;
    warnings.push(wishes.api === 'responses' ? 'seed not sent: the Responses API takes none' : 'seed not sent: the model does not accept one');
  }
  let temperature = wishes.temperature;
  if (temperature !== undefined && !caps.temperature) {
    temperature = undefined;
    warnings.push('temperature not sent: the model does not accept one');
  }
  let structure: StructureMode | null = null;
  if (wishes.structured) {
    structure = caps.json_schema ? 'json_schema' : caps.json_object ? 'json_object' : 'prompt';
    if (structure === 'json_object') warnings.push('structured outputs not supported: JSON mode used, the schema is checked after the answer');
    if (structure === 'prompt') warnings.push('structured outputs not supported: the schema is given in the instructions and checked after the answer');
  }
  return { seed, temperature, structure, warnings };
}

function definedOnly(c: Capabilities): Capabilities {
  const out: Capabilities = {};
  for (const [k, v] of Object.entries(c) as Array<[keyof Capabilities, boolean | undefined]>) if (v !== undefined) out[k] = v;
  return out;
}
