import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuleBasedPlanner } from '../../src/planning/rulePlanner.ts';
import { loadTools } from '../../src/toolkit/loader.ts';
import { getJson, postJson, startTestService, type TestService, withService } from '../helpers/service.ts';
import { postStream } from '../helpers/sse.ts';

const cleanup: string[] = [];
afterAll(async () => {
  await Promise.all(cleanup.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A copy of tools/ inside the repo, so tool modules' relative imports resolve as they do from tools/. */
async function copyTools(): Promise<string> {
  const dir = await mkdtemp(path.join(process.cwd(), '.tmp-tools-'));
  cleanup.push(dir);
  for (const f of await readdir('tools')) await cp(path.join('tools', f), path.join(dir, f));
  return dir;
}

describe('tool catalogue', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());

  it('lists every tool with versions, schemas, tags, defaults, provider and model', async () => {
    const { status, body } = await getJson(`${svc.url}/v1/tools`);
    expect(status).toBe(200);
    expect(body.data.length).toBeGreaterThanOrEqual(3);
    const sentiment = body.data.find((t: any) => t.name === 'sentiment');
    expect(sentiment).toMatchObject({
      version: '1.1.0',
      versions: ['1.1.0'],
      tags: ['classification', 'sentiment'],
      provider: 'simulator',
      model: 'gpt-4o-mini',
      defaults: { replicates: 5 },
    });
    expect(sentiment.output_schema.properties.label.enum).toEqual(['positive', 'negative', 'neutral']);
  });

  it('filters by tag', async () => {
    const { body } = await getJson(`${svc.url}/v1/tools?tag=extraction`);
    expect(body.data.map((t: any) => t.name)).toEqual(['contact_extractor']);
  });

  it('serves one tool, and 404 tool_not_found for an unknown one or an unsatisfiable range', async () => {
    expect((await getJson(`${svc.url}/v1/tools/bundle`)).body).toMatchObject({ name: 'bundle', version: '1.0.0' });
    expect((await getJson(`${svc.url}/v1/tools/nothing`)).body.error.code).toBe('tool_not_found');
    const pinned = await postJson(`${svc.url}/v1/runs`, { tool: 'sentiment', tool_version: '^2.0', input: 'x' });
    expect(pinned.status).toBe(404);
    expect(pinned.body.error.code).toBe('tool_not_found');
    expect(pinned.body.error.details.available_versions).toEqual(['1.1.0']);
    const ok = await postJson(`${svc.url}/v1/runs`, { tool: 'sentiment', tool_version: '^1.0', input: 'I love it', replicates: 3 });
    expect(ok.body).toMatchObject({ status: 'succeeded', tool: 'sentiment', tool_version: '1.1.0' });
  });

  it('runs a declarative classifier with its own instructions and schema', async () => {
    svc.sim.reset();
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'sentiment', input: 'This is wonderful', replicates: 3 });
    expect(body.status).toBe('succeeded');
    expect(['positive', 'negative', 'neutral']).toContain(body.output.label);
    const sent = svc.sim.requests[0]!.body as any;
    expect(sent.messages[0].content).toContain('Classify the sentiment');
    expect(sent.response_format.json_schema.schema.properties.label.enum).toEqual(['positive', 'negative', 'neutral']);
  });

  it('runs a pipeline end to end, each step feeding the next, with inner events tagged by tool', async () => {
    svc.sim.reset();
    const cap = await postStream(svc.url, { tool: 'triage', input: 'My order arrived broken!' });
    const result = cap.frames.at(-1)!.data.result;
    expect(result.status).toBe('succeeded');
    expect(result.tool).toBe('triage');
    expect(typeof result.output).toBe('string');
    const tools = new Set(cap.frames.filter((f) => f.event === 'replicate_done').map((f) => f.data.tool));
    expect(tools).toEqual(new Set(['sentiment', 'answer']));
    expect(cap.frames.filter((f) => f.event === 'tool_started').map((f) => f.data.tool)).toEqual(['sentiment', 'answer']);
    const answerPrompt = svc.sim.requests.find((r) => JSON.stringify(r.body).includes('Draft a short, fitting reply'));
    expect(answerPrompt).toBeDefined();
    expect(JSON.stringify(answerPrompt!.body)).toContain('My order arrived broken!');
    // Usage of every step is counted on the run.
    expect(result.usage.total_tokens).toBeGreaterThan(0);
    expect(result.cost_breakdown.reduce((a: number, l: any) => a + l.cost_usd, 0)).toBeCloseTo(result.cost_usd, 9);
  });

  it('runs a fan-out end to end, both branches on the same input', async () => {
    svc.sim.reset();
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'panel', input: 'Mail jane@example.com, she is delighted' });
    expect(body.status).toBe('succeeded');
    expect(Object.keys(body.output).sort()).toEqual(['contact_extractor', 'sentiment']);
    expect(body.output.sentiment.label).toBeDefined();
    expect(body.bundle.replicates.length).toBe(3 + 3);
    const prompts = svc.sim.requests.map((r) => JSON.stringify(r.body));
    expect(prompts.every((p) => p.includes('jane@example.com'))).toBe(true);
  });

  it('picks up a YAML tool dropped into the tools directory after a restart', async () => {
    const dir = await copyTools();
    await writeFile(
      path.join(dir, 'haiku.yaml'),
      'name: haiku\nversion: 0.1.0\ndescription: Writes a haiku.\ntags: [poetry]\ninstructions: Write a haiku about the topic.\n',
    );
    await withService({ registry: await loadTools(dir) }, async (restarted) => {
      const listed = await getJson(`${restarted.url}/v1/tools?tag=poetry`);
      expect(listed.body.data.map((t: any) => t.name)).toEqual(['haiku']);
      const run = await postJson(`${restarted.url}/v1/runs`, { tool: 'haiku', input: 'autumn', replicates: 2 });
      expect(run.body).toMatchObject({ status: 'succeeded', tool: 'haiku', tool_version: '0.1.0' });
    });
  });

  it('refuses to start with a broken tool file, naming the file and field, exit code non-zero', async () => {
    const dir = await copyTools();
    await writeFile(path.join(dir, 'broken.yaml'), 'name: broken\nversion: 1.0\ndescription: x\ninstructions: hi\n');
    const child = spawn(process.execPath, ['src/server.ts'], {
      env: { ...process.env, TOOLS_DIR: dir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(output).toMatch(/broken\.yaml/);
    expect(output).toMatch(/version/);
  });
});

describe('planner', () => {
  const rules = (yaml: string) => {
    const file = path.join(tmpdir(), `rules-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`);
    return writeFile(file, yaml).then(() => file);
  };

  it('picks a tool by the rules file and says which rule and why, in the result and run_started', async () => {
    const registry = await loadTools('tools');
    const planner = RuleBasedPlanner.fromFile('config/planner.yaml');
    planner.check(registry, 'config/planner.yaml');
    await withService({ registry, planner }, async (svc) => {
      const cap = await postStream(svc.url, { input: 'The food was cold.', tags: ['sentiment'], replicates: 3 });
      const started = cap.frames[0]!.data;
      expect(started.planner).toMatchObject({ tool: 'sentiment', rule: 'wants-sentiment' });
      expect(started.planner.reason).toContain('sentiment');
      expect(cap.frames.at(-1)!.data.result.planner).toEqual(started.planner);
      expect(cap.frames.at(-1)!.data.result.tool).toBe('sentiment');

      const fallback = await postJson(`${svc.url}/v1/runs`, { input: 'Write a long essay about the sea, please, with output', replicates: 1, agent: { output_schema: { type: 'object' } } });
      expect(fallback.body.planner).toMatchObject({ tool: 'bundle', rule: null });
      expect(fallback.body.planner.reason).toMatch(/no rule matched/);

      const explicit = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'x', tags: ['sentiment'], replicates: 1 });
      expect(explicit.body.planner).toMatchObject({ tool: 'bundle', reason: 'tool named in the request' });
    });
  });

  it('picks another tool when the rules file changes', async () => {
    const registry = await loadTools('tools');
    const request = { input: 'Short question?', replicates: 1 };
    const a = await startTestService({ registry, planner: RuleBasedPlanner.fromFile(await rules('rules:\n  - { name: q, when: { input_pattern: "\\\\?$" }, tool: answer }\n')) });
    const b = await startTestService({ registry, planner: RuleBasedPlanner.fromFile(await rules('rules:\n  - { name: q, when: { input_pattern: "\\\\?$" }, tool: sentiment }\n')) });
    try {
      expect((await postJson(`${a.url}/v1/runs`, request)).body.tool).toBe('answer');
      expect((await postJson(`${b.url}/v1/runs`, request)).body.tool).toBe('sentiment');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('gives a clear 400 when no rule matches and there is no default', async () => {
    await withService({ registry: await loadTools('tools'), planner: RuleBasedPlanner.fromFile(await rules('rules:\n  - { name: only-long, when: { input_min_chars: 1000 }, tool: answer }\n')) }, async (svc) => {
      const res = await postJson(`${svc.url}/v1/runs`, { input: 'short' });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/no planner rule matched/);
    });
  });

  it('refuses a rules file that names an unknown tool or field', async () => {
    const registry = await loadTools('tools');
    const unknownTool = await rules('rules:\n  - { name: r, tool: ghost }\n');
    expect(() => RuleBasedPlanner.fromFile(unknownTool).check(registry, unknownTool)).toThrow(/rule "r" names ghost/);
    const badField = await rules('rules:\n  - { name: r, tool: answer, when: { input_lenght: 3 } }\n');
    expect(() => RuleBasedPlanner.fromFile(badField)).toThrow(/rules\.0\.when.*input_lenght/);
  });
});
