import { describe, expect, it } from 'vitest';
import { deadlinesOf, planPickUp } from '../../src/runs/takeover.ts';
import type { Replicate } from '../../src/schemas/bundle.ts';
import type { RunEvent } from '../../src/schemas/events.ts';
import type { ResolvedRequest } from '../../src/toolkit/api.ts';
import { makeRun, toolStarted } from '../store/fixtures.ts';

const request = { budget: {} } as ResolvedRequest;
const created = Date.parse('2025-01-01T00:00:00.000Z');
const deadlines = deadlinesOf(created, 60_000, request);

function replicate(index: number): Replicate {
  return { index, status: 'succeeded', output: 'x', valid: true, provider: 'sim', model: 'm', seed: index + 1, attempts: 1, usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 }, cost_usd: 0, latency_ms: 1, started_at: null, ended_at: null, error: null };
}

function event(runId: string, seq: number, body: Record<string, unknown>): RunEvent {
  return { seq, run_id: runId, trace_id: 't', ts: '2025-01-01T00:00:00.000Z', tool: 'consensus', ...body } as RunEvent;
}

describe('planPickUp (what a worker does with a run it picked up)', () => {
  const run = makeRun({ status: 'running', tool: 'consensus' });
  const started = event(run.id, 1, { type: 'run_started', tool_version: '1.0.0', planner: run.planner, replicates: 3 });
  const done = (seq: number, index: number) => event(run.id, seq, { type: 'replicate_done', replicate: replicate(index) });

  it('starts a run with an empty log as new', () => {
    expect(planPickUp(makeRun({ status: 'queued' }), [], deadlines, created, 1, 2)).toEqual({ kind: 'fresh' });
  });

  it('continues a run of a dead replica, keeping each finished replicate once', () => {
    const plan = planPickUp(run, [started, done(2, 1), done(3, 0), done(4, 1)], deadlines, created + 1000, 2, 2);
    expect(plan.kind).toBe('resume');
    if (plan.kind !== 'resume') return;
    expect(plan.lastSeq).toBe(4);
    expect(plan.kept.map((r) => r.index)).toEqual([0, 1]);
  });

  it('ends it worker_lost when its time is up, a composite tool or the synthesizer was half way, or it was taken over too often', () => {
    expect(planPickUp(run, [started], deadlines, created + 60_000, 2, 2)).toMatchObject({ kind: 'lost', lastSeq: 1 });
    const timeBudget = deadlinesOf(created, 60_000, { budget: { max_time_ms: 500 } } as ResolvedRequest);
    expect(planPickUp(run, [started], timeBudget, created + 500, 2, 2).kind).toBe('lost');
    expect(planPickUp(run, [started, toolStarted(run.id, 2)], deadlines, created, 2, 2).kind).toBe('lost');
    expect(planPickUp(run, [started, done(2, 0), event(run.id, 3, { type: 'bundle_ready', bundle: {} })], deadlines, created, 2, 2).kind).toBe('lost');
    const resumedTwice = [started, event(run.id, 2, { type: 'run_resumed', after: 1, kept: 0, attempt: 2 }), event(run.id, 3, { type: 'run_resumed', after: 2, kept: 0, attempt: 3 })];
    expect(planPickUp(run, resumedTwice, deadlines, created, 4, 2).kind).toBe('lost');
  });

  it('only announces the end of a run that ended without its run_completed', () => {
    const ended = makeRun({ status: 'succeeded' });
    expect(planPickUp(ended, [started], deadlines, created, 2, 2)).toEqual({ kind: 'ended', lastSeq: 1, completed: false });
    expect(planPickUp(ended, [started, event(ended.id, 2, { type: 'run_completed', result: ended })], deadlines, created, 2, 2)).toMatchObject({ completed: true });
  });
});
