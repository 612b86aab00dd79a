import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startSimulator } from '../../src/providers/simulator/index.ts';
import { startService } from '../../src/server.ts';
import { getJson, postJson, startTestService, withService, type TestService } from '../helpers/service.ts';

const MAX_DURATION = 2 ** 31 - 1;

describe('request bounds', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { MAX_INPUT_BYTES: '2000', MAX_METADATA_KEYS: '3', MAX_INSTRUCTIONS_BYTES: '100' } });
  });
  afterAll(async () => {
    await svc.close();
  });

  const refused = async (body: unknown, message: RegExp) => {
    const res = await postJson(`${svc.url}/v1/runs`, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(message);
    return res;
  };

  it('refuses inputs and instructions past their byte bounds, counting UTF-8 bytes', async () => {
    await refused({ input: 'x'.repeat(2001) }, /MAX_INPUT_BYTES/);
    // 700 three-byte characters: 700 UTF-16 units, 2100 bytes.
    await refused({ input: '€'.repeat(700) }, /MAX_INPUT_BYTES/);
    await refused({ input: [{ role: 'user', content: 'x'.repeat(1500) }, { role: 'user', content: 'y'.repeat(600) }] }, /MAX_INPUT_BYTES/);
    await refused({ input: 'x', agent: { instructions: 'i'.repeat(101) } }, /MAX_INSTRUCTIONS_BYTES/);
    await refused({ input: 'x', synthesize: { instructions: 'i'.repeat(101) } }, /MAX_INSTRUCTIONS_BYTES/);
    expect((await postJson(`${svc.url}/v1/runs`, { input: 'x'.repeat(2000), replicates: 1 })).status).toBe(200);
  });

  it('bounds metadata in keys, key length and value length', async () => {
    await refused({ input: 'x', metadata: { a: '1', b: '2', c: '3', d: '4' } }, /MAX_METADATA_KEYS/);
    await refused({ input: 'x', metadata: { ['k'.repeat(65)]: 'v' } }, /MAX_METADATA_KEY_CHARS/);
    await refused({ input: 'x', metadata: { k: 'v'.repeat(513) } }, /metadata\.k: values must be at most 512 characters \(MAX_METADATA_VALUE_CHARS\)/);
  });

  it('refuses long or odd model names, and tags, tool names and ranges past their lengths', async () => {
    await refused({ input: 'x', agent: { model: 'm'.repeat(201) } }, /agent\.model: must be at most 200 characters \(MAX_MODEL_NAME_CHARS\)/);
    await refused({ input: 'x', agent: { model: 'gpt 4o; drop' } }, /model names use only/);
    await refused({ input: 'x', synthesize: { model: 'm'.repeat(201) } }, /synthesize/);
    await refused({ input: 'x', tags: ['t'.repeat(65)] }, /tags/);
    await refused({ input: 'x', tool: 't'.repeat(65) }, /tool/);
    await refused({ input: 'x', tool_version: '1'.repeat(257) }, /tool_version/);
    const ok = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1, agent: { model: 'openai/gpt-4o-mini:2024-07-18@eu' } });
    expect(ok.status).toBe(200);
  });

  it('refuses durations a timer cannot hold instead of firing them at once', async () => {
    await refused({ input: 'x', budget: { max_time_ms: MAX_DURATION + 1 } }, /budget\.max_time_ms/);
    await refused({ input: 'x', timeout_ms: MAX_DURATION + 1 }, /timeout_ms/);
    const ok = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1, budget: { max_time_ms: MAX_DURATION } });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('succeeded');
  });

  it('echoes no more than a few hundred characters of what the caller sent', async () => {
    const big = `${'k'.repeat(100_000)}`;
    const res = await refused({ input: 'x', [big]: 1 }, /unknown field/);
    expect(JSON.stringify(res.body).length).toBeLessThan(2_000);
    // A range that is short enough to parse but not semver: echoed, cut.
    const range = await postJson(`${svc.url}/v1/runs`, { input: 'x', tool: 'bundle', tool_version: `not a range ${'z'.repeat(240)}` });
    expect(range.status).toBe(400);
    expect(range.body.error.message).toMatch(/is not a semver range/);
    expect(range.body.error.message.length).toBeLessThan(400);
  });
});

describe('/metrics under long model names', () => {
  it('refuses 450 KB model names and stays small and scrapable after 100 runs with the longest names allowed', async () => {
    await withService({}, async (svc) => {
      for (let i = 0; i < 20; i++) {
        const res = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1, agent: { model: `${i}-${'m'.repeat(450_000)}` } });
        expect(res.status).toBe(400);
      }
      for (let i = 0; i < 100; i++) {
        const model = `${String(i).padStart(3, '0')}-${'m'.repeat(196)}`;
        const res = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1, agent: { model } });
        expect(res.status).toBe(200);
      }
      const metrics = await fetch(`${svc.url}/metrics`);
      const text = await metrics.text();
      expect(metrics.status).toBe(200);
      expect(text).toContain('orchestrator_replicate_latency_seconds');
      // Label values are cut to 128 characters, so no line is much longer than that.
      const longest = Math.max(...text.split('\n').map((l) => l.length));
      expect(longest).toBeLessThan(400);
      expect(text.length).toBeLessThan(1_500_000);
    });
  });
});

describe('pipeline templates', () => {
  it("hand a pipeline input and a step output full of $' and $` to the provider unchanged in size", async () => {
    const reason = "$'$`".repeat(5_000);
    await withService(
      {
        behavior: {
          answers: { kind: 'function', fn: (ctx) => (ctx.schema ? { label: 'neutral', reason } : 'A short reply {{previous}} $& $1.') },
        },
      },
      async (svc) => {
        const input = `${"$'".repeat(20_000)}{{previous}}${'$`'.repeat(20_000)}`;
        const res = await postJson(`${svc.url}/v1/runs`, { tool: 'triage', input });
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('succeeded');
        const prompts = svc.sim.requests.map((r) => JSON.stringify(r.body));
        expect(prompts.length).toBeGreaterThan(1);
        // The step template's prompt: the input and the previous output inserted verbatim, once.
        const stepTwo = svc.sim.requests.find((r) => JSON.stringify(r.body).includes('Sentiment analysis:'));
        expect(stepTwo).toBeDefined();
        const text = JSON.stringify(stepTwo?.body);
        expect(text).toContain(JSON.stringify(input).slice(1, -1));
        expect(text).toContain(JSON.stringify(reason).slice(1, -1));
        // No request is larger than everything substituted plus the template and framing.
        const bound = 2 * (input.length + reason.length) + 20_000;
        for (const p of prompts) expect(p.length).toBeLessThan(bound);
      },
    );
  });

  it('fails the step, naming MAX_PROMPT_BYTES, when its template would build a prompt past the bound', async () => {
    await withService(
      { env: { MAX_PROMPT_BYTES: '4096' }, behavior: { answers: { kind: 'function', fn: (ctx) => (ctx.schema ? { label: 'neutral', reason: 'r'.repeat(5_000) } : 'ok') } } },
      async (svc) => {
        const res = await postJson(`${svc.url}/v1/runs`, { tool: 'triage', input: 'hello' });
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('failed');
        expect(res.body.error.message).toMatch(/pipeline step 2 \(answer\).*MAX_PROMPT_BYTES/);
        // Step 2 never reached the provider.
        expect(svc.sim.requests.some((r) => JSON.stringify(r.body).includes('Sentiment analysis:'))).toBe(false);
      },
    );
  });
});

describe('redaction', () => {
  it('masks secrets in stored and answered results with REDACT_RESULTS, at any depth and in keys', async () => {
    let deep: unknown = { token: 'secret-abc' };
    for (let i = 0; i < 40; i++) deep = { level: deep };
    await withService(
      { env: { REDACT_RESULTS: 'true', REDACT_PATTERNS: 'secret-\\w+' }, behavior: { answers: { kind: 'fixed', value: { nested: deep, 'secret-key': 1 } } } },
      async (svc) => {
        const schema = { type: 'object' };
        const res = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1, agent: { output_schema: schema } });
        expect(res.status).toBe(200);
        const stored = await getJson(`${svc.url}/v1/runs/${res.body.id}`);
        for (const text of [JSON.stringify(res.body), JSON.stringify(stored.body)]) {
          expect(text).not.toContain('secret-');
          expect(text).toContain('[REDACTED]');
        }
        let node = stored.body.output.nested;
        for (let i = 0; i < 40; i++) node = node.level;
        expect(node.token).toBe('[REDACTED]');
      },
    );
  });

  it('refuses a REDACT_PATTERNS entry that is not linear-time RE2, naming it', () => {
    expect(() => loadConfig({ REDACT_PATTERNS: 'ok-\\d+, (a)\\1' })).toThrow(ConfigError);
    try {
      loadConfig({ REDACT_PATTERNS: 'ok-\\d+, (a)\\1' });
    } catch (error) {
      expect((error as ConfigError).issues.join('\n')).toMatch(/REDACT_PATTERNS entry "\(a\)\\\\1" is not a valid RE2/);
    }
    expect(loadConfig({ REDACT_PATTERNS: 'ok-\\d+' }).REDACT_PATTERNS).toHaveLength(1);
  });
});

describe('simulator control endpoints', () => {
  const sink = () => createLogger({ level: 'silent', redact: (v) => v, destination: new Writable({ write: (_c, _e, cb) => cb() }) });

  it("are absent from npm start's embedded simulator unless SIMULATOR_CONTROL=true", async () => {
    for (const [env, expected] of [[{}, 404], [{ SIMULATOR_CONTROL: 'true' }, 200]] as const) {
      const service = await startService(loadConfig({ PORT: '0', HOST: '127.0.0.1', ...env }), sink());
      try {
        const origin = new URL(service.simulator?.url as string).origin;
        expect((await fetch(`${origin}/_simulator/requests`)).status).toBe(expected);
        expect((await fetch(`${origin}/_simulator/stats`)).status).toBe(expected);
        expect((await fetch(`${origin}/_simulator/reset`, { method: 'POST' })).status).toBe(expected);
        // The model API itself is there either way.
        expect((await fetch(`${origin}/v1/models`)).status).toBe(200);
      } finally {
        await service.close();
      }
    }
  });

  it('are on for a simulator started from code (tests), and off when asked', async () => {
    const on = await startSimulator();
    const off = await startSimulator({ control: false });
    try {
      expect((await fetch(`${new URL(on.url).origin}/_simulator/stats`)).status).toBe(200);
      expect((await fetch(`${new URL(off.url).origin}/_simulator/stats`)).status).toBe(404);
    } finally {
      await on.close();
      await off.close();
    }
  });
});

describe('durations in the config', () => {
  it('refuses a timer setting a Node timer cannot hold, naming it; TTLs may be longer', () => {
    expect(() => loadConfig({ SSE_HEARTBEAT_MS: String(2 ** 31) })).toThrow(/SSE_HEARTBEAT_MS: at most 2147483647 ms/);
    expect(() => loadConfig({ BREAKER_RESET_MS: String(2 ** 32), SHUTDOWN_GRACE_MS: String(2 ** 31) })).toThrow(/BREAKER_RESET_MS.*\n.*SHUTDOWN_GRACE_MS/s);
    expect(loadConfig({ RUN_TTL_MS: String(90 * 86_400_000) }).RUN_TTL_MS).toBe(90 * 86_400_000);
  });
});
