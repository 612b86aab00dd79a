import { z } from 'zod';
import { RunResultSchema } from './result.ts';

/** One run in `GET /v1/runs`: the record without its bundle, output and cost lines (fetch the run for those). */
export const RunSummarySchema = RunResultSchema.pick({
  id: true,
  object: true,
  status: true,
  tool: true,
  tool_version: true,
  created_at: true,
  started_at: true,
  completed_at: true,
  usage: true,
  cost_usd: true,
  metadata: true,
  error: true,
});

/** The answer of `GET /v1/runs`. */
export const RunListSchema = z.object({
  object: z.literal('list'),
  data: z.array(RunSummarySchema),
  next_cursor: z.string().nullable(),
});

/** The answer of `POST /v1/runs/{id}/stream_token`. */
export const StreamTokenSchema = z.object({
  object: z.literal('stream_token'),
  run_id: z.string(),
  stream_token: z.string(),
  expires_at: z.string(),
});

export type RunSummary = z.infer<typeof RunSummarySchema>;
export type RunList = z.infer<typeof RunListSchema>;
