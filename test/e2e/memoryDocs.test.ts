import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryStore } from '../../src/store/memory.ts';
import { docExamples } from '../helpers/docExamples.ts';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const examples = docExamples('docs/memory.md');

describe('docs/memory.md examples', () => {
  let svc: TestService;
  let dir: string;
  beforeAll(async () => {
    // A tools directory beside tools/ (so the example's `../src/toolkit/api.ts` resolves as it would there): the shipped tools plus the doc's.
    dir = mkdtempSync(path.join(ROOT, '.memory-doc-tools-'));
    cpSync(path.join(ROOT, 'tools'), dir, { recursive: true });
    writeFileSync(path.join(dir, 'brief.yaml'), examples.get('brief') as string);
    writeFileSync(path.join(dir, 'recall.ts'), examples.get('recall') as string);
    svc = await startTestService({ env: { TOOLS_DIR: dir } });
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the examples this test runs', () => {
    expect([...examples.keys()].sort()).toEqual(['brief', 'recall']);
  });

  it('brief: the second step quotes the first step’s bundle from the run memory, the result keeps the summary, and the memory is gone after', async () => {
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { tool: 'brief', input: 'The parcel arrived crushed and nobody answers my mails.', seed: 11 });
    expect(status).toBe(200);
    expect(body.status).toBe('succeeded');
    const first = body.bundle.steps[0];
    expect(first.step).toBe('1:sentiment');
    // What the simulator was asked in step 2 was built from step 1's bundle, read back from the run's memory.
    const step2 = svc.sim.requests.map((r) => JSON.stringify(r.body)).filter((b) => b.includes('Write a one-line brief'));
    expect(step2.length).toBeGreaterThan(0);
    expect(step2[0]).toContain(`Sentiment (voted by ${first.statistics.succeeded} replicates): ${first.summary.consensus.label}`);
    expect(step2[0]).toContain(`Agreement: ${first.summary.confidence}`);
    // keep_memory: the two references, and what the memory held when the run ended.
    expect(body.memory.summary).toEqual({ 'step.1.output': first.summary.consensus, 'planner.reason': 'tool named in the request' });
    const keys = body.memory.entries.map((e: { key: string }) => e.key);
    expect(keys).toEqual(expect.arrayContaining(['input', 'planner', 'partial.1:sentiment', 'step.1:sentiment', 'partial.2:answer', 'synthesis.2:answer', 'step.2:answer']));
    expect(body.memory.bytes).toBe(body.memory.entries.reduce((n: number, e: { bytes: number }) => n + e.bytes, 0));
    expect(body.memory.bytes).toBeLessThanOrEqual(svc.config.MEMORY_MAX_BYTES);
    expect((await getJson(`${svc.url}/v1/runs/${body.id}`)).body.memory).toEqual(body.memory);
    const runMemory = (svc.store as MemoryStore).runMemory;
    expect(runMemory.holds(body.id)).toBe(false);
    expect(runMemory.size).toEqual({ runs: 0, bytes: 0 });
  });

  it('recall: the tool reads its step from memory, notes the confidence and keeps the keys it saw', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'recall', input: 'Thank you, the refund came through quickly!', seed: 3 });
    expect(body.status).toBe('succeeded');
    expect(body.output).toEqual({ label: body.bundle.summary.consensus.label, confidence: body.bundle.summary.confidence });
    expect(body.memory.summary).toEqual({ label: body.output.label, keys: ['input', 'note.confidence', 'partial.classify', 'planner', 'step.classify'] });
    expect((svc.store as MemoryStore).runMemory.holds(body.id)).toBe(false);
  });
});
