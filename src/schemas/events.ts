import { z } from 'zod';
import { BundleSchema, ReplicateSchema, StatisticsSchema, SummarySchema, UsageSchema } from './bundle.ts';
import { PlannerDecisionSchema, RunResultSchema } from './result.ts';

/** Fields the orchestrator stamps on every event; tools never set them. */
const Stamp = {
  seq: z.number().int().min(1),
  run_id: z.string(),
  trace_id: z.string(),
  request_id: z.string().optional(),
  ts: z.string(),
};

/** Payloads left out of a stored copy of the event (the run's event log was past MAX_EVENT_LOG_BYTES); the run record has them. */
const Elided = z.array(z.string()).optional();

/** Fields a tool may set on what it emits. */
const Tagging = {
  tool: z.string().optional(),
  source: z.string().optional(),
  provider: z.string().optional(),
  model: z.string().optional(),
};

const BudgetUsed = z.object({ tokens: z.number(), cost_usd: z.number(), time_ms: z.number() });

const eventBodies = {
  run_started: { tool_version: z.string(), planner: PlannerDecisionSchema, replicates: z.number().int().nullable() },
  replicate_done: { replicate: ReplicateSchema, elided: Elided },
  partial_summary: { summary: SummarySchema, statistics: StatisticsSchema, budget_used: BudgetUsed },
  bundle_ready: { bundle: BundleSchema, elided: Elided },
  synthesis_done: { output: z.unknown(), usage: UsageSchema, cost_usd: z.number(), error: z.unknown().nullable(), elided: Elided },
  tool_started: { step: z.string().optional() },
  tool_completed: { step: z.string().optional(), status: z.string() },
  run_completed: { result: RunResultSchema },
  /** Another replica took the run over after its executor died: `after` is the last seq it found, `kept` the replicates it keeps. */
  /** With handoffs on (HANDOFFS=on and a tool's `handoffs: true`): the agent `from` handed the task to `to` after `turn` model calls; `source` is the replicate. */
  handoff: { from: z.string(), to: z.string(), turn: z.number().int().min(1) },
  run_resumed: { after: z.number().int().min(0), kept: z.number().int().min(0), attempt: z.number().int().min(1) },
} as const;

type EventType = keyof typeof eventBodies;

function eventSchema<T extends EventType>(type: T) {
  return z.object({ type: z.literal(type), ...Stamp, ...Tagging, ...eventBodies[type] });
}

function emittedSchema<T extends EventType>(type: T) {
  return z.object({ type: z.literal(type), ...Tagging, ...eventBodies[type] });
}

/** Every event of a run, one union discriminated by `type`. */
export const RunEventSchema = z.discriminatedUnion('type', [
  eventSchema('run_started'),
  eventSchema('replicate_done'),
  eventSchema('partial_summary'),
  eventSchema('bundle_ready'),
  eventSchema('synthesis_done'),
  eventSchema('tool_started'),
  eventSchema('tool_completed'),
  eventSchema('run_completed'),
  eventSchema('run_resumed'),
  eventSchema('handoff'),
]);

/** What a tool emits: an event without the orchestrator's stamp. */
export const EmittedEventSchema = z.discriminatedUnion('type', [
  emittedSchema('replicate_done'),
  emittedSchema('partial_summary'),
  emittedSchema('bundle_ready'),
  emittedSchema('synthesis_done'),
  emittedSchema('tool_started'),
  emittedSchema('tool_completed'),
  emittedSchema('handoff'),
]);

export type RunEvent = z.infer<typeof RunEventSchema>;
export type RunEventType = RunEvent['type'];
export type EmittedEvent = z.infer<typeof EmittedEventSchema>;
/** The stamp plus an emitted event, or an orchestrator-owned one. */
export type EventStamp = Pick<RunEvent, 'seq' | 'run_id' | 'trace_id' | 'request_id' | 'ts'>;
