import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonLength, jsonLengthUpdated } from '../../src/store/jsonBytes.ts';
import { eventBytes } from '../../src/store/eventLog.ts';
import type { RunEvent } from '../../src/schemas/events.ts';

// The stores bound event logs and records in bytes of their JSON: the measure must equal JSON.stringify's length
// exactly, whichever parts were measured before and however they are shared.

const json = fc.jsonValue({ maxDepth: 4 });
const object = fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 6 });

describe('jsonLength', () => {
  it('equals JSON.stringify(value).length for any JSON object', () => {
    fc.assert(fc.property(object, (value) => jsonLength(value) === JSON.stringify(value).length));
  });

  it('stays exact when an object holds remembered parts, alone or in arrays, beside other members', () => {
    fc.assert(
      fc.property(fc.array(object, { maxLength: 4 }), object, fc.boolean(), fc.boolean(), (parts, rest, asArray, withRest) => {
        for (const part of parts) jsonLength(part, true);
        const holder: Record<string, unknown> = withRest ? { ...rest } : {};
        if (asArray) holder['items'] = parts;
        else parts.forEach((part, i) => (holder[`p"${i}`] = part));
        const nested = { outer: holder, list: [holder, 1] };
        return jsonLength(holder, true) === JSON.stringify(holder).length && jsonLength(nested) === JSON.stringify(nested).length;
      }),
    );
  });

  it('measures an event log the way it is stored: replicate, bundle, record, completion', () => {
    const replicate = (index: number) => ({ index, status: 'succeeded', output: { answer: 'yes', note: 'é\u2028"q"' }, valid: true, provider: 'simulator', model: 'm', seed: index, attempts: 1, usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 }, cost_usd: 0, latency_ms: 1.5, started_at: null, ended_at: null, error: null });
    const replicates = [replicate(0), replicate(1)];
    const stamp = { seq: 1, run_id: 'run_1', trace_id: 't', request_id: 'r', ts: '2026-12-01T00:00:00.000000Z', tool: 'bundle' };
    const bundle = { replicates, summary: { consensus: { answer: 'yes' }, confidence: 1, disagreements: [], pairwise_distances: [[0, 0], [0, 0]] }, statistics: { requested: 2, completed: 2, succeeded: 2, failed: 0, cancelled: 0 } };
    const record = { id: 'run_1', status: 'succeeded', bundle, output: { answer: 'yes' }, error: null };
    const events = [
      ...replicates.map((r) => ({ ...stamp, type: 'replicate_done', replicate: r })),
      { ...stamp, type: 'bundle_ready', bundle },
      { ...stamp, type: 'run_completed', result: record },
    ] as unknown as RunEvent[];
    for (const event of events.slice(0, 3)) expect(eventBytes(event)).toBe(JSON.stringify(event).length);
    expect(jsonLength(record, true)).toBe(JSON.stringify(record).length);
    expect(eventBytes(events[3] as RunEvent)).toBe(JSON.stringify(events[3]).length);
  });

  it('measures an update of a record by what changed, exactly, whatever changed (or was added, dropped, or became undefined)', () => {
    const maybeUndefined = fc.option(json, { nil: undefined });
    fc.assert(
      fc.property(object, fc.dictionary(fc.string({ maxLength: 6 }), maybeUndefined, { maxKeys: 4 }), fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }), (before, changes, dropped) => {
        const prev = { ...before };
        const next: Record<string, unknown> = { ...prev, ...changes };
        for (const key of dropped) delete next[key];
        return jsonLengthUpdated(prev, JSON.stringify(prev).length, next) === JSON.stringify(next).length;
      }),
    );
  });

  it('measures the record saves of a run (queued, running, final) as their JSON', () => {
    const queued = { id: 'run_1', object: 'run', status: 'queued', started_at: null, bundle: null, usage: { input_tokens: 0, output_tokens: 0 }, planner: { tool: 'bundle', reason: 'named "x"' }, error: null };
    const running = { ...queued, status: 'running', started_at: '2026-12-01T00:00:00.000Z' };
    const bundle = { replicates: [{ index: 0, output: 'Paris' }], summary: { consensus: 'Paris' } };
    jsonLength(bundle, true);
    const final = { ...running, status: 'succeeded', bundle, usage: { input_tokens: 7, output_tokens: 9 }, error: null };
    const q = jsonLength(queued, true);
    const r = jsonLengthUpdated(queued, q, running);
    expect([q, r, jsonLengthUpdated(running, r, final)]).toEqual([queued, running, final].map((x) => JSON.stringify(x).length));
    // Remembered: the completion event holding the final record is measured from it.
    expect(jsonLength({ type: 'run_completed', result: final })).toBe(JSON.stringify({ type: 'run_completed', result: final }).length);
  });
});
