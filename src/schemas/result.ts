import { z } from 'zod';
import { BundleSchema, ErrorBodySchema, UsageSchema } from './bundle.ts';
import { MemoryReportSchema } from './memory.ts';

/** Every status a run passes through; the last five are terminal. */
export const RunStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'budget_exceeded']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** True once a run can no longer change. */
export function isTerminal(status: RunStatus): boolean {
  return status !== 'queued' && status !== 'running';
}

/** One line of `cost_breakdown`: spend per provider and model. */
export const CostLineSchema = z.object({
  provider: z.string(),
  model: z.string(),
  input_tokens: z.number().int().min(0),
  output_tokens: z.number().int().min(0),
  cost_usd: z.number().min(0),
});

/** Limits asked for and what was spent against them. */
export const BudgetReportSchema = z.object({
  limits: z.object({
    max_tokens: z.number().optional(),
    max_cost_usd: z.number().optional(),
    max_time_ms: z.number().optional(),
  }),
  used: z.object({ tokens: z.number().int().min(0), cost_usd: z.number().min(0), time_ms: z.number().min(0) }),
});

/** Which tool ran and why (the planner's decision, or the request's explicit tool). */
export const PlannerDecisionSchema = z.object({
  tool: z.string(),
  version: z.string().optional(),
  rule: z.string().nullable().optional(),
  reason: z.string(),
});

/** The run record: what `POST /v1/runs` and `GET /v1/runs/{id}` answer. */
export const RunResultSchema = z.object({
  id: z.string(),
  object: z.literal('run'),
  status: RunStatusSchema,
  tool: z.string(),
  tool_version: z.string(),
  created_at: z.string(),
  started_at: z.string().nullable().optional(),
  completed_at: z.string().nullable(),
  bundle: BundleSchema.nullable(),
  output: z.unknown(),
  usage: UsageSchema,
  cost_usd: z.number().min(0),
  cost_breakdown: z.array(CostLineSchema),
  budget: BudgetReportSchema,
  planner: PlannerDecisionSchema,
  trace_id: z.string().regex(/^[0-9a-f]{32}$/),
  request_id: z.string(),
  metadata: z.record(z.string(), z.string()),
  error: ErrorBodySchema.nullable(),
  /** What the run's memory held, kept when its tool asked (`ctx.memory.keep`, docs/memory.md); the memory itself is dropped when the run ends. */
  memory: MemoryReportSchema.optional(),
  /** Only on the answers of `POST /v1/runs`: a token for this run's `/events` (see docs/usage.md); never stored. */
  stream_token: z.string().optional(),
});

export type CostLine = z.infer<typeof CostLineSchema>;
export type BudgetReport = z.infer<typeof BudgetReportSchema>;
export type PlannerDecision = z.infer<typeof PlannerDecisionSchema>;
export type RunResult = z.infer<typeof RunResultSchema>;
