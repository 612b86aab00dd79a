import { z } from 'zod';
import { ErrorBodySchema } from '../errors.ts';

/** Token counts, as reported by the provider. */
export const UsageSchema = z.object({
  input_tokens: z.number().int().min(0),
  output_tokens: z.number().int().min(0),
  total_tokens: z.number().int().min(0),
});

/** The `error` object on runs and replicates (one schema, in src/errors.ts). */
export { ErrorBodySchema };

/** A model a replicate's call moved away from (`agent.fallback_models`), and the error code that made it move. */
export const FallbackStepSchema = z.object({ provider: z.string(), model: z.string(), reason: z.string() });

/** One replicate's outcome inside an Evidence Bundle. */
export const ReplicateSchema = z.object({
  index: z.number().int().min(0),
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  output: z.unknown(),
  valid: z.boolean(),
  provider: z.string(),
  model: z.string(),
  seed: z.number().int().nullable(),
  attempts: z.number().int().min(0),
  usage: UsageSchema,
  cost_usd: z.number().min(0),
  latency_ms: z.number().min(0),
  /** When the replicate's call started and when it ended (ISO 8601, microseconds, like event `ts`); null for one never launched. Records of older versions lack them. */
  started_at: z.string().nullable().default(null),
  ended_at: z.string().nullable().default(null),
  error: ErrorBodySchema.nullable(),
  /** In a composite tool's bundle: the branch or step that made this replicate (`1:sentiment`). */
  step: z.string().optional(),
  /** What the model's capabilities made the call give up (no seed sent, JSON mode instead of a schema…); absent when nothing. */
  warnings: z.array(z.string()).optional(),
  /** Models tried before the one that answered (`provider`, `model`), in order, with why each was left; absent when the first answered. */
  fallbacks: z.array(FallbackStepSchema).optional(),
  /** The agent runtime that answered: `openai_agents` (the OpenAI Agents SDK, its model layer for a single turn, its Runner for tools or handoffs). */
  runtime: z.literal('openai_agents').optional(),
});

/** Where replicates differ, by JSON Pointer. */
export const DisagreementSchema = z.object({
  path: z.string(),
  values: z.array(z.object({ value: z.unknown(), replicates: z.array(z.number().int()) })),
});

/** Consensus and how far the replicates agree. */
export const SummarySchema = z.object({
  consensus: z.unknown(),
  confidence: z.number().min(0).max(1),
  disagreements: z.array(DisagreementSchema),
  pairwise_distances: z.array(z.array(z.number().min(0).max(1))),
  /** Marked false when the merged consensus does not satisfy the output schema. */
  consensus_valid: z.boolean().optional(),
});

/** Counts over the replicates. */
export const StatisticsSchema = z.object({
  requested: z.number().int(),
  completed: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  latency_ms: z
    .object({ min: z.number(), p50: z.number(), p95: z.number(), max: z.number(), mean: z.number() })
    .nullable()
    .optional(),
  mean_distance: z.number().nullable().optional(),
});

/** Whether the run stopped before all replicates finished, and why. */
export const EarlyStopResultSchema = z.object({
  triggered: z.boolean(),
  reason: z.string().nullable(),
  rule: z.string().nullable().optional(),
  after: z.number().int().nullable().optional(),
});

const bundleShape = {
  replicates: z.array(ReplicateSchema),
  summary: SummarySchema,
  statistics: StatisticsSchema,
  early_stop: EarlyStopResultSchema,
};

/** One step's (or branch's) own bundle inside a composite tool's bundle. */
export const StepBundleSchema = z.object({ step: z.string(), tool: z.string(), ...bundleShape });

/** One model of a cross-model panel: its replicates and how they did against the consensus and the other models. */
export const ModelFiguresSchema = z.object({
  replicates: z.array(z.number().int().min(0)),
  valid: z.number().int().min(0),
  agreement: z.number().min(0).max(1).nullable(),
  mean_distance_to_others: z.number().min(0).max(1).nullable(),
  usage: UsageSchema,
  cost_usd: z.number().min(0),
});

/** The Evidence Bundle: every replicate plus what they say together. */
export const BundleSchema = z.object({
  ...bundleShape,
  /** Cross-model runs (`agent.models`, replicates that fell back, or mixed models): figures per `provider/model`. */
  by_model: z.record(z.string(), ModelFiguresSchema).optional(),
  /** Composite tools (pipelines, fan-outs): every step's own bundle, in step order. */
  steps: z.array(StepBundleSchema).optional(),
});

export type Usage = z.infer<typeof UsageSchema>;
export type Replicate = z.infer<typeof ReplicateSchema>;
export type Disagreement = z.infer<typeof DisagreementSchema>;
export type Summary = z.infer<typeof SummarySchema>;
export type Statistics = z.infer<typeof StatisticsSchema>;
export type EarlyStopResult = z.infer<typeof EarlyStopResultSchema>;
export type Bundle = z.infer<typeof BundleSchema>;
export type ModelFigures = z.infer<typeof ModelFiguresSchema>;
export type StepBundle = z.infer<typeof StepBundleSchema>;

/** Zero usage, the start of every sum. */
export function emptyUsage(): Usage {
  return { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
}

/** Adds b into a copy of a. */
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
}
