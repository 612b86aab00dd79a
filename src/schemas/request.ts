import { z } from 'zod';
import { MEMORY_KEY } from './memory.ts';
import type { Config } from '../config.ts';

/**
 * Bounds on what a caller may send, checked before any work is spent on it
 * (config: MAX_INPUT_BYTES, MAX_INSTRUCTIONS_BYTES, MAX_METADATA_*,
 * MAX_MODEL_NAME_CHARS). Bytes are UTF-8.
 */
export interface RequestBounds {
  readonly maxInputBytes: number;
  readonly maxInstructionsBytes: number;
  readonly maxMetadataKeys: number;
  readonly maxMetadataKeyChars: number;
  readonly maxMetadataValueChars: number;
  readonly maxModelNameChars: number;
}

/** The config's defaults; the exported schemas below are built with these. */
export const DEFAULT_REQUEST_BOUNDS: RequestBounds = Object.freeze({
  maxInputBytes: 524_288,
  maxInstructionsBytes: 65_536,
  maxMetadataKeys: 32,
  maxMetadataKeyChars: 64,
  maxMetadataValueChars: 512,
  maxModelNameChars: 200,
});

/** The bounds a config sets. */
export function requestBoundsFrom(config: Config): RequestBounds {
  return {
    maxInputBytes: config.MAX_INPUT_BYTES,
    maxInstructionsBytes: config.MAX_INSTRUCTIONS_BYTES,
    maxMetadataKeys: config.MAX_METADATA_KEYS,
    maxMetadataKeyChars: config.MAX_METADATA_KEY_CHARS,
    maxMetadataValueChars: config.MAX_METADATA_VALUE_CHARS,
    maxModelNameChars: config.MAX_MODEL_NAME_CHARS,
  };
}

/** Longest duration a timer can hold: Node fires a longer `setTimeout` at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;
/** Tool names are `^[a-z][a-z0-9_.-]{0,63}$`; anything longer is refused before a lookup. */
export const MAX_TOOL_NAME_CHARS = 64;
/** A semver range longer than this is refused before semver parses it (parsing is superlinear). */
export const MAX_TOOL_VERSION_CHARS = 256;
/** Characters of one tag. */
export const MAX_TAG_CHARS = 64;
/** What a model name may be made of: provider prefixes (`a/x`), tags (`x:latest`), dates, org names. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9._:/@-]+$/;

/** UTF-8 length, cut short: the answer only matters up to `max`. */
function bytesOver(text: string, max: number): boolean {
  // Each UTF-16 unit is at least one byte and at most three.
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return Buffer.byteLength(text) > max;
}

/** A string of at most `max` UTF-8 bytes, the message naming the setting. */
function boundedText(max: number, setting: string) {
  return z.string().refine((t) => !bytesOver(t, max), `must be at most ${max} bytes (${setting})`);
}

function modelName(max: number) {
  return z.string().min(1).max(max, `must be at most ${max} characters (MAX_MODEL_NAME_CHARS)`).regex(MODEL_NAME_PATTERN, 'model names use only A-Z a-z 0-9 . _ : / @ -');
}

/** One chat message of a structured input. */
export const MessageSchema = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.string(),
});

function runInputSchema(maxBytes: number) {
  return z
    .union([z.string().min(1, 'input must not be empty'), z.array(MessageSchema).min(1, 'input must hold at least one message')])
    .refine(
      (input) => {
        if (typeof input === 'string') return !bytesOver(input, maxBytes);
        let total = 0;
        for (const m of input) {
          if (bytesOver(m.content, maxBytes - total)) return false;
          total += Buffer.byteLength(m.content);
        }
        return true;
      },
      `input must be at most ${maxBytes} bytes (MAX_INPUT_BYTES)`,
    );
}

/** The task given to a run: plain text or a conversation. */
export const RunInputSchema = runInputSchema(DEFAULT_REQUEST_BOUNDS.maxInputBytes);

/** A JSON Schema object (checked for compilability where it is used). */
export const JsonSchemaObject = z.record(z.string(), z.unknown());

/** Models one run may spread its replicates across (`agent.models`). */
export const MAX_PANEL_MODELS = 16;
/** Models one call may fall back to (`agent.fallback_models`). */
export const MAX_FALLBACK_MODELS = 8;

function agentSpecSchema(b: RequestBounds) {
  return z.strictObject({
    instructions: boundedText(b.maxInstructionsBytes, 'MAX_INSTRUCTIONS_BYTES').optional(),
    model: modelName(b.maxModelNameChars).optional(),
    /** A cross-model panel: replicates spread round-robin, or in proportion to `weight`. */
    models: z
      .array(z.union([modelName(b.maxModelNameChars), z.strictObject({ model: modelName(b.maxModelNameChars), weight: z.number().min(0).max(1_000_000) })]))
      .min(1, 'agent.models must name at least one model')
      .max(MAX_PANEL_MODELS, `agent.models may name at most ${MAX_PANEL_MODELS} models`)
      .refine((ms) => ms.some((m) => typeof m === 'string' || m.weight > 0), 'agent.models: at least one weight must be above 0')
      .optional(),
    /** Tried in order when a replicate's model has its circuit open or keeps failing. */
    fallback_models: z.array(modelName(b.maxModelNameChars)).max(MAX_FALLBACK_MODELS, `agent.fallback_models may name at most ${MAX_FALLBACK_MODELS} models`).optional(),
    output_schema: JsonSchemaObject.optional(),
    temperature: z.number().min(0).max(2).optional(),
    max_output_tokens: z.number().int().positive().optional(),
  });
}

/** How the sub-agents of an agent tool are set up. */
export const AgentSpecSchema = agentSpecSchema(DEFAULT_REQUEST_BOUNDS);

/** Limits a run may not cross; crossing one cancels in-flight work. */
export const BudgetLimitsSchema = z.strictObject({
  max_tokens: z.number().int().positive().optional(),
  max_cost_usd: z.number().positive().optional(),
  max_time_ms: z.number().int().positive().max(MAX_DURATION_MS).optional(),
});

/** When replicates may stop early because they already agree. */
export const EarlyStopSchema = z.strictObject({
  epsilon: z.number().min(0).max(1).optional(),
  min_replicates: z.number().int().min(1).optional(),
  quorum: z.number().int().min(1).optional(),
  confidence: z.number().min(0).max(1).optional(),
  rule: z.enum(['adaptive_consistency', 'esc', 'predictive']).optional(),
  threshold: z.number().gt(0).lt(1).optional(),
  window: z.number().int().min(2).optional(),
});

/** How replicates are launched: all at once, or in waves of `wave_size`. */
export const LaunchSchema = z.strictObject({
  policy: z.enum(['all', 'waves']).default('all'),
  wave_size: z.number().int().min(1).optional(),
});

/** Memory entries one synthesizer pass may quote. */
export const MAX_SYNTHESIS_MEMORY_KEYS = 16;

function synthesizeSchema(b: RequestBounds) {
  return z.union([
    z.boolean(),
    z.strictObject({
      model: modelName(b.maxModelNameChars).optional(),
      instructions: boundedText(b.maxInstructionsBytes, 'MAX_INSTRUCTIONS_BYTES').optional(),
      /** Entries of the run's memory quoted to the synthesizer (docs/memory.md), e.g. `step.1:sentiment`, `note.context`. */
      memory: z.array(z.string().regex(MEMORY_KEY, 'a run memory key (docs/memory.md)')).max(MAX_SYNTHESIS_MEMORY_KEYS).optional(),
    }),
  ]);
}

/** The optional synthesizer pass after the bundle. */
export const SynthesizeSchema = synthesizeSchema(DEFAULT_REQUEST_BOUNDS);

/**
 * `POST /v1/runs` body under `bounds` (the config's; {@link RunRequestSchema}
 * has the defaults). Unknown fields are refused so typos do not pass silently.
 */
export function runRequestSchema(bounds: RequestBounds = DEFAULT_REQUEST_BOUNDS) {
  return z.strictObject({
    tool: z.string().min(1).max(MAX_TOOL_NAME_CHARS, `must be at most ${MAX_TOOL_NAME_CHARS} characters`).optional(),
    tool_version: z.string().min(1).max(MAX_TOOL_VERSION_CHARS, `must be at most ${MAX_TOOL_VERSION_CHARS} characters`).optional(),
    input: runInputSchema(bounds.maxInputBytes),
    agent: agentSpecSchema(bounds).optional(),
    replicates: z.number().int().min(1).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    timeout_ms: z.number().int().positive().max(MAX_DURATION_MS).optional(),
    budget: BudgetLimitsSchema.optional(),
    early_stop: EarlyStopSchema.optional(),
    launch: LaunchSchema.optional(),
    synthesize: synthesizeSchema(bounds).optional(),
    /** How the consensus is formed: `weights` per model (`provider/model`) weigh each replicate's vote by its model. */
    merge: z
      .strictObject({
        weights: z
          .record(modelName(bounds.maxModelNameChars), z.number().min(0).max(1_000_000))
          .refine((w) => Object.keys(w).length <= MAX_PANEL_MODELS * 2, `merge.weights may name at most ${MAX_PANEL_MODELS * 2} models`)
          .optional(),
      })
      .optional(),
    options: z.record(z.string(), z.unknown()).optional(),
    stream: z.boolean().optional(),
    background: z.boolean().optional(),
    metadata: z
      .record(z.string(), z.string().max(bounds.maxMetadataValueChars, `values must be at most ${bounds.maxMetadataValueChars} characters (MAX_METADATA_VALUE_CHARS)`))
      .refine((m) => Object.keys(m).length <= bounds.maxMetadataKeys, `metadata may hold at most ${bounds.maxMetadataKeys} keys (MAX_METADATA_KEYS)`)
      // A refinement rather than a key schema: zod reports a bad key as "Invalid key in record", naming no limit.
      .refine((m) => Object.keys(m).every((k) => k.length <= bounds.maxMetadataKeyChars), `keys must be at most ${bounds.maxMetadataKeyChars} characters (MAX_METADATA_KEY_CHARS)`)
      .optional(),
    /** Kinds of tool wanted; planner rules may match on them. */
    tags: z.array(z.string().min(1).max(MAX_TAG_CHARS, `must be at most ${MAX_TAG_CHARS} characters`)).max(32).optional(),
  });
}

/** `POST /v1/runs` body with the default bounds. */
export const RunRequestSchema = runRequestSchema();

export type Message = z.infer<typeof MessageSchema>;
export type RunInput = z.infer<typeof RunInputSchema>;
export type AgentSpec = z.infer<typeof AgentSpecSchema>;
export type BudgetLimits = z.infer<typeof BudgetLimitsSchema>;
export type EarlyStopConfig = z.infer<typeof EarlyStopSchema>;
export type LaunchConfig = z.infer<typeof LaunchSchema>;
export type SynthesizeConfig = z.infer<typeof SynthesizeSchema>;
export type RunRequest = z.infer<typeof RunRequestSchema>;
