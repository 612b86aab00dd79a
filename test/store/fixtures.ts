import { afterEach } from 'vitest';
import type { RunEvent } from '../../src/schemas/events.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { RunResult, RunStatus } from '../../src/schemas/result.ts';
import type { IdempotencyRecord, StoreLimits } from '../../src/store/types.ts';

const TRACE_ID = '0123456789abcdef0123456789abcdef';

let counter = 0;

/** A run id unique within the test process, sortable by creation order. */
export function newRunId(): string {
  counter += 1;
  return `run_${String(counter).padStart(6, '0')}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Limits roomy enough that only the tests aimed at a limit ever hit one. */
export function testLimits(overrides: Partial<StoreLimits> = {}): StoreLimits {
  return { runTtlMs: 60_000, maxRuns: 10_000, maxEventsPerRun: 5_000, maxIdempotencyKeys: 10_000, ...overrides };
}

/** For one describe block: a maker of fresh memory stores, each closed after its test. */
export function memoryStores(): (overrides?: Partial<StoreLimits>) => MemoryStore {
  const stores: MemoryStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  return (overrides = {}) => {
    const store = new MemoryStore(testLimits(overrides));
    stores.push(store);
    return store;
  };
}

/** A well-formed run record. */
export function makeRun(overrides: Partial<RunResult> = {}): RunResult {
  const status: RunStatus = overrides.status ?? 'running';
  return {
    id: newRunId(),
    object: 'run',
    status,
    tool: 'consensus',
    tool_version: '1.0.0',
    created_at: '2025-01-01T00:00:00.000Z',
    started_at: '2025-01-01T00:00:00.010Z',
    completed_at: status === 'running' || status === 'queued' ? null : '2025-01-01T00:00:01.000Z',
    bundle: null,
    output: { answer: 42 },
    usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
    cost_usd: 0.001,
    cost_breakdown: [{ provider: 'sim', model: 'sim-1', input_tokens: 10, output_tokens: 5, cost_usd: 0.001 }],
    budget: { limits: { max_tokens: 1000 }, used: { tokens: 15, cost_usd: 0.001, time_ms: 990 } },
    planner: { tool: 'consensus', reason: 'test' },
    trace_id: TRACE_ID,
    request_id: 'req_test',
    metadata: { suite: 'store' },
    error: null,
    ...overrides,
  };
}

function stamp(runId: string, seq: number) {
  return { seq, run_id: runId, trace_id: TRACE_ID, request_id: 'req_test', ts: new Date(1_735_689_600_000 + seq).toISOString(), tool: 'consensus' };
}

/** A small event that is never dropped by the per-run cap. */
export function toolStarted(runId: string, seq: number): RunEvent {
  return { type: 'tool_started', ...stamp(runId, seq), step: `step-${seq}` };
}

/** The repeatable event the per-run cap drops. */
export function partialSummary(runId: string, seq: number): RunEvent {
  return {
    type: 'partial_summary',
    ...stamp(runId, seq),
    summary: { consensus: { answer: seq }, confidence: 0.5, disagreements: [], pairwise_distances: [[0]] },
    statistics: { requested: 3, completed: 1, succeeded: 1, failed: 0, cancelled: 0 },
    budget_used: { tokens: seq, cost_usd: 0, time_ms: seq },
  };
}

/** A finished replicate whose output is `output`. */
export function replicateDone(runId: string, seq: number, index: number, output: unknown): RunEvent {
  return {
    type: 'replicate_done',
    ...stamp(runId, seq),
    source: `replicate:${index}`,
    replicate: {
      index,
      status: 'succeeded',
      output,
      valid: true,
      provider: 'sim',
      model: 'sim-1',
      seed: index,
      attempts: 1,
      usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
      cost_usd: 0,
      latency_ms: 1,
      started_at: '2026-01-01T00:00:00.000000Z',
      ended_at: '2026-01-01T00:00:00.001000Z',
      error: null,
    },
  };
}

/** The closing event of a run. */
export function runCompleted(run: RunResult, seq: number): RunEvent {
  return { type: 'run_completed', ...stamp(run.id, seq), result: run };
}

/** An idempotency record for `runId`. */
export function idemRecord(runId: string, fingerprint = 'fp-1'): IdempotencyRecord {
  return { fingerprint, run_id: runId, result: null, created_at: 1_735_689_600_000 };
}

/** Polls until `cond` holds: pub/sub delivery arrives on another socket. */
export async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(5);
  }
}

/** Real-time wait, for TTL tests. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
