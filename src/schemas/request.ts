import { z } from 'zod';

/** One chat message of a structured input. */
export const MessageSchema = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.string(),
});

/** The task given to a run: plain text or a conversation. */
export const RunInputSchema = z.union([
  z.string().min(1, 'input must not be empty'),
  z.array(MessageSchema).min(1, 'input must hold at least one message'),
]);

/** A JSON Schema object (checked for compilability where it is used). */
export const JsonSchemaObject = z.record(z.string(), z.unknown());

/** How the sub-agents of an agent tool are set up. */
export const AgentSpecSchema = z.strictObject({
  instructions: z.string().optional(),
  model: z.string().min(1).optional(),
  output_schema: JsonSchemaObject.optional(),
  temperature: z.number().min(0).max(2).optional(),
  max_output_tokens: z.number().int().positive().optional(),
});

/** Limits a run may not cross; crossing one cancels in-flight work. */
export const BudgetLimitsSchema = z.strictObject({
  max_tokens: z.number().int().positive().optional(),
  max_cost_usd: z.number().positive().optional(),
  max_time_ms: z.number().int().positive().optional(),
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

/** The optional synthesizer pass after the bundle. */
export const SynthesizeSchema = z.union([
  z.boolean(),
  z.strictObject({ model: z.string().min(1).optional(), instructions: z.string().optional() }),
]);

/** `POST /v1/runs` body. Unknown fields are refused so typos do not pass silently. */
export const RunRequestSchema = z.strictObject({
  tool: z.string().min(1).optional(),
  tool_version: z.string().min(1).optional(),
  input: RunInputSchema,
  agent: AgentSpecSchema.optional(),
  replicates: z.number().int().min(1).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  timeout_ms: z.number().int().positive().optional(),
  budget: BudgetLimitsSchema.optional(),
  early_stop: EarlyStopSchema.optional(),
  launch: LaunchSchema.optional(),
  synthesize: SynthesizeSchema.optional(),
  options: z.record(z.string(), z.unknown()).optional(),
  stream: z.boolean().optional(),
  background: z.boolean().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  /** Kinds of tool wanted; planner rules may match on them. */
  tags: z.array(z.string().min(1)).max(32).optional(),
});

export type Message = z.infer<typeof MessageSchema>;
export type RunInput = z.infer<typeof RunInputSchema>;
export type AgentSpec = z.infer<typeof AgentSpecSchema>;
export type BudgetLimits = z.infer<typeof BudgetLimitsSchema>;
export type EarlyStopConfig = z.infer<typeof EarlyStopSchema>;
export type LaunchConfig = z.infer<typeof LaunchSchema>;
export type SynthesizeConfig = z.infer<typeof SynthesizeSchema>;
export type RunRequest = z.infer<typeof RunRequestSchema>;
