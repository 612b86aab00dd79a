import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import type { MemoryStore } from '../../src/store/memory.ts';
import { storeLimits } from '../../src/store/index.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { runMemoryKey } from '../../src/store/runMemoryRedis.ts';
import { defineTool } from '../../src/toolkit/api.ts';
import { parseDeclarativeTool, toToolDefinition } from '../../src/toolkit/declarative.ts';
import { loadTools } from '../../src/toolkit/loader.ts';
import type { ToolRegistry } from '../../src/toolkit/registry.ts';
import { deleteKeys, REDIS_URL, scanKeys, skipWithoutRedis } from '../helpers/redis.ts';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';
import { waitFor } from '../helpers/waitFor.ts';

/** Step 2 reads step 1's result back from the run's memory. */
const RECAP = `
name: recap
version: 1.0.0
description: Classifies with one replicate, then answers quoting the classification from memory.
kind: pipeline
steps:
  - tool: sentiment
    replicates: 1
  - tool: answer
    replicates: 1
    input: "Earlier step said {{memory.step.previous.output.label}} ({{memory.step.1.tool}}). Reply."
keep_memory: [step.1.output.label]
`;

/** Step 1's five-replicate bundle is several KiB: over a small MEMORY_MAX_BYTES it is kept trimmed, its output whole. */
const WIDE = `
name: wide
version: 1.0.0
description: Classifies with five replicates, then answers quoting the label from memory.
kind: pipeline
steps:
  - tool: sentiment
  - tool: answer
    replicates: 1
    input: "Label from memory: {{memory.step.1.output.label}}; trimmed: {{memory.step.1.trimmed}}. Reply."
keep_memory: [step.1.trimmed]
`;

/** Step 2 reads a field step 1's entry does not have: the run fails at run time, naming it. */
const BROKEN = `
name: broken
version: 1.0.0
description: Reads a field that does not exist.
kind: pipeline
steps:
  - tool: sentiment
    replicates: 1
  - tool: answer
    input: "{{memory.step.1.bundle.summary.no_such_field}}"
`;

/** Writes a note far over any bound. */
const HOARDER = defineTool({
  name: 'hoarder',
  version: '1.0.0',
  description: 'Tries to note more than the run memory may hold.',
  tags: [],
  input_schema: { type: 'object' },
  output_schema: { type: 'object' },
  async execute(ctx) {
    await ctx.memory.set('note.small', 'fits');
    await ctx.memory.set('note.big', 'x'.repeat(4096));
    return { output: { unreachable: true }, bundle: null };
  },
});

async function registry(): Promise<ToolRegistry> {
  const tools = await loadTools('tools');
  for (const [text, source] of [[RECAP, 'recap.yaml'], [WIDE, 'wide.yaml'], [BROKEN, 'broken.yaml']] as const) tools.register(toToolDefinition(parseDeclarativeTool(parseYaml(text), source), source));
  tools.register(HOARDER);
  tools.checkDependencies();
  return tools;
}

describe('run memory with the memory store', () => {
  let svc: TestService;
  const held = () => (svc.store as MemoryStore).runMemory;
  beforeAll(async () => {
    svc = await startTestService({ registry: await registry(), env: { MEMORY_MAX_BYTES: '2048' } });
  });
  afterAll(async () => svc?.close());
  beforeEach(() => svc.sim.reset());

  it('a pipeline whose second step reads the first step’s result from memory works, and nothing of its memory remains after', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'recap', input: 'I love the new dashboard.', seed: 4 });
    expect(body.status).toBe('succeeded');
    const label = body.bundle.steps[0].summary.consensus.label as string;
    expect(['positive', 'negative', 'neutral']).toContain(label);
    expect(svc.sim.requests.some((r) => JSON.stringify(r.body).includes(`Earlier step said ${label} (sentiment). Reply.`))).toBe(true);
    expect(body.memory.summary).toEqual({ 'step.1.output.label': label });
    expect(held().holds(body.id)).toBe(false);
    expect(held().size).toEqual({ runs: 0, bytes: 0 });
  });

  it('over MEMORY_MAX_BYTES a step’s result is stored trimmed (with a warning), and the memory stays within the bound', async () => {
    // sentiment's 5-replicate bundle is several KiB: over the 2 KiB bound of this service.
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'wide', input: 'Meh, it is fine I guess.', seed: 9 });
    expect(body.status).toBe('succeeded');
    expect(JSON.stringify(body.bundle.steps[0]).length).toBeGreaterThan(2048);
    expect(body.memory.trimmed).toContain('step.1:sentiment');
    expect(body.memory.summary).toEqual({ 'step.1.trimmed': true });
    const label = body.bundle.steps[0].summary.consensus.label as string;
    expect(svc.sim.requests.some((r) => JSON.stringify(r.body).includes(`Label from memory: ${label}; trimmed: true. Reply.`))).toBe(true);
    expect(body.memory.bytes).toBeLessThanOrEqual(2048);
    expect(svc.logs.some((line) => line.includes('stored trimmed') && line.includes('step.1:sentiment'))).toBe(true);
    expect(held().holds(body.id)).toBe(false);
  });

  it('refuses a tool’s write past MEMORY_MAX_BYTES with a clear error; the failed run drops what it had', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'hoarder', input: 'x' });
    expect(body.status).toBe('failed');
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(/run memory: "note\.big" refused: \d+ bytes on top of the \d+ held would pass MEMORY_MAX_BYTES \(2048\)/);
    expect(body.error.details).toEqual({ limit: 'MEMORY_MAX_BYTES', key: 'note.big' });
    expect(held().holds(body.id)).toBe(false);
  });

  it('a step reading a field its memory entry lacks fails naming it, and the failed run drops its memory', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'broken', input: 'Fine.' });
    expect(body.status).toBe('failed');
    expect(body.error.code).toBe('invalid_request');
    // The entry was there (step 1 wrote it); only the field is missing.
    expect(body.error.message).toContain('{{memory.step.1.bundle.summary.no_such_field}}: "step.1:sentiment" has no field bundle.summary.no_such_field');
    expect(held().size.runs).toBe(0);
  });

  it('the synthesizer quotes the memory entries synthesize.memory names, and notes its answer there', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, {
      tool: 'answer',
      input: 'Which plan fits a team of five?',
      replicates: 2,
      synthesize: { memory: ['planner', 'partial', 'note.absent'] },
    });
    expect(body.status).toBe('succeeded');
    const prompt = svc.sim.requests.map((r) => JSON.stringify(r.body)).find((b) => b.includes("From the run's memory:"));
    expect(prompt).toBeDefined();
    expect(prompt).toContain(JSON.stringify(`[planner] ${JSON.stringify(body.planner)}`).slice(1, -1));
    expect(prompt).toContain('[partial] {');
    expect(prompt).toContain("[note.absent] (not in the run's memory)");
    expect(held().holds(body.id)).toBe(false);
  });

  it('refuses a synthesize.memory key outside the grammar with 400', async () => {
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { tool: 'answer', input: 'Hi', synthesize: { memory: ['secrets'] } });
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain('synthesize');
  });

  it('a cancelled run drops its memory', async () => {
    // Step 1 answers, step 2 hangs until the cancel aborts it.
    svc.sim.configure({ faults: [{ type: 'ok' }, { type: 'hang' }] });
    const started = await postJson(`${svc.url}/v1/runs`, { tool: 'recap', input: 'Where is my order?', background: true });
    const id = started.body.id as string;
    await waitFor(async () => (await held().get(id, 'step.1:sentiment')) !== null, { what: 'step 1 in memory' });
    const cancelled = await postJson(`${svc.url}/v1/runs/${id}/cancel`, {});
    expect(cancelled.body.status).toBe('cancelled');
    expect(held().holds(id)).toBe(false);
    expect(await held().entries(id)).toEqual({});
  });
});

describe.skipIf(skipWithoutRedis)('run memory in Redis', () => {
  const prefix = `test:memory:${randomBytes(6).toString('hex')}:`;
  const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  let svc: TestService;

  /** Every key in Redis that names the run. */
  async function keysOf(runId: string): Promise<string[]> {
    return (await scanKeys(admin, `${prefix}*${runId}*`)).sort();
  }

  beforeAll(async () => {
    const config = loadConfig({});
    const store = await RedisStore.connect({ url: REDIS_URL, prefix, limits: storeLimits(config), idempotencyTtlMs: 60_000, logger: pino({ level: 'silent' }) });
    svc = await startTestService({ registry: await registry(), store });
  });
  afterAll(async () => {
    await svc?.close();
    await deleteKeys(admin, prefix);
    admin.disconnect();
  });
  beforeEach(() => svc.sim.reset());

  it('the pipeline reads step 1 from the memory kept in Redis; after the run, Redis holds the run’s record and log and nothing of its memory', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'recap', input: 'The update broke my export.', seed: 2 });
    expect(body.status).toBe('succeeded');
    const label = body.bundle.steps[0].summary.consensus.label as string;
    expect(svc.sim.requests.some((r) => JSON.stringify(r.body).includes(`Earlier step said ${label} (sentiment). Reply.`))).toBe(true);
    expect(body.memory.entries.map((e: { key: string }) => e.key)).toEqual(expect.arrayContaining(['input', 'planner', 'step.1:sentiment', 'step.2:answer']));
    const id = body.id as string;
    expect(await keysOf(id)).toEqual([`${prefix}evbytes:${id}`, `${prefix}events:${id}`, `${prefix}head:${id}`, `${prefix}run:${id}`]);
    expect(await admin.exists(runMemoryKey(prefix, id))).toBe(0);
  });

  it('while the run works its memory is one hash with a TTL; cancelling the run deletes it', async () => {
    svc.sim.configure({ faults: [{ type: 'ok' }, { type: 'hang' }] });
    const started = await postJson(`${svc.url}/v1/runs`, { tool: 'recap', input: 'Still waiting for a reply.', background: true });
    const id = started.body.id as string;
    const key = runMemoryKey(prefix, id);
    await waitFor(async () => (await admin.hexists(key, 'step.1:sentiment')) === 1, { what: 'step 1 in the Redis memory' });
    expect(JSON.parse((await admin.hget(key, 'input')) as string)).toBe('Still waiting for a reply.');
    const ttl = await admin.pttl(key);
    // The run's deadline (DEFAULT_TIMEOUT_MS, 120 s) plus MEMORY_TTL_GRACE_MS (60 s), counted from now.
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(180_000);
    const cancelled = await postJson(`${svc.url}/v1/runs/${id}/cancel`, {});
    expect(cancelled.body.status).toBe('cancelled');
    expect((await keysOf(id)).filter((k) => k.includes(':mem:'))).toEqual([]);
    expect(await admin.exists(key)).toBe(0);
  });

  it('a run whose tool never uses its memory writes none of it: no hash while it works', async () => {
    // Replicate 0 answers (its partial summary is an observation), replicate 1 hangs until the cancel.
    svc.sim.configure({ faults: [{ type: 'ok' }, { type: 'hang' }] });
    const started = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'Nothing to remember.', replicates: 2, background: true });
    const id = started.body.id as string;
    await waitFor(async () => (await svc.store.readEvents(id, 0)).some((e) => e.type === 'partial_summary'), { what: 'a partial summary' });
    expect(await admin.exists(runMemoryKey(prefix, id))).toBe(0);
    const cancelled = await postJson(`${svc.url}/v1/runs/${id}/cancel`, {});
    expect(cancelled.body.status).toBe('cancelled');
    expect((await keysOf(id)).filter((k) => k.includes(':mem:'))).toEqual([]);
  });

  it('a failed run leaves nothing of its memory in Redis', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'broken', input: 'Okay.' });
    expect(body.status).toBe('failed');
    expect(body.error.message).toContain('"step.1:sentiment" has no field');
    expect((await keysOf(body.id)).filter((k) => k.includes(':mem:'))).toEqual([]);
  });
});
