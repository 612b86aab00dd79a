import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKS, type Attack } from '../../bench/security/corpus.ts';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';

/**
 * Runs `work` while `/healthz` is polled back to back, and returns the
 * slowest probe: the service shares one event loop with every request, so
 * a request that stalls it shows up here as a slow health check.
 */
async function whileProbing<T>(url: string, work: () => Promise<T>): Promise<{ result: T; maxHealthMs: number; probes: number }> {
  let done = false;
  let maxHealthMs = 0;
  let probes = 0;
  const probe = (async () => {
    while (!done) {
      const started = performance.now();
      const res = await fetch(`${url}/healthz`);
      await res.text();
      if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
      maxHealthMs = Math.max(maxHealthMs, performance.now() - started);
      probes++;
    }
  })();
  try {
    const result = await work();
    return { result, maxHealthMs, probes };
  } finally {
    done = true;
    await probe;
  }
}

async function send(svc: TestService, attack: Attack) {
  const res = await fetch(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...attack.headers }, body: attack.body });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as any, bytes: text.length };
}

describe('hostile input corpus', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it.each(ATTACKS.map((a) => [a.name, a] as const))('%s: answered as expected while /healthz keeps answering', async (_name, attack) => {
    svc.sim.configure({ answers: attack.answers ?? { kind: 'auto' } });
    const { result, maxHealthMs, probes } = await whileProbing(svc.url, () => send(svc, attack));
    const expected = attack.expected;
    if ('refused' in expected) {
      expect(result.status).toBe(expected.refused);
      expect(result.body.error.code).toBe(expected.code);
      expect(result.body.error.message).toMatch(expected.message);
      // Echoed input is cut: the answer stays small whatever was sent.
      expect(result.bytes).toBeLessThan(8_000);
    } else {
      expect(result.status).toBe(200);
      expect(result.body.status).toBe(expected.run);
      if (expected.errorCode) expect(result.body.bundle.replicates[0].error.code).toBe(expected.errorCode);
    }
    expect(probes).toBeGreaterThan(0);
    // The stall is the defect: a generous bound, far below the seconds these attacks took before.
    expect(maxHealthMs).toBeLessThan(1000);
    expect((await getJson(`${svc.url}/healthz`)).status).toBe(200);
  });
});

describe('schemas that must work', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  const runWith = async (schema: Record<string, unknown>, replicates = 2) =>
    (await postJson(`${svc.url}/v1/runs`, { input: 'structured', replicates, seed: 3, agent: { output_schema: schema } })).body;

  it('a root $ref into $defs runs end to end (the wrapper keeps #/$defs resolvable)', async () => {
    const body = await runWith({ $ref: '#/$defs/city', $defs: { city: { type: 'string', enum: ['Paris', 'Lyon'] } } });
    expect(body.status).toBe('succeeded');
    expect(['Paris', 'Lyon']).toContain(body.output);
    expect(body.bundle.replicates.every((r: any) => r.valid)).toBe(true);
    // What went to the provider is an object root that carries the definitions.
    const sent = svc.sim.requests.at(-1)?.body as any;
    const schema = sent.response_format?.json_schema?.schema ?? sent.text?.format?.schema;
    expect(schema.type).toBe('object');
    expect(schema.$defs.city.enum).toEqual(['Paris', 'Lyon']);
  });

  it('a non-object root with references inside works', async () => {
    const body = await runWith({ type: 'array', minItems: 1, maxItems: 3, items: { $ref: '#/definitions/score' }, definitions: { score: { type: 'integer', minimum: 1, maximum: 5 } } });
    expect(body.status).toBe('succeeded');
    expect(Array.isArray(body.output)).toBe(true);
    for (const x of body.output) expect(x).toBeGreaterThanOrEqual(1);
  });

  it('recursion through # that descends into the value works, wrapped or not', async () => {
    const tree = { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', maxItems: 2, items: { $ref: '#' } } }, required: ['name'] };
    expect((await runWith(tree)).status).toBe('succeeded');
    const list = { type: 'array', maxItems: 2, items: { anyOf: [{ type: 'integer' }, { $ref: '#' }] } };
    expect((await runWith(list)).status).toBe('succeeded');
  });

  it('a pattern still constrains (RE2 is a real engine, not a pass-through)', async () => {
    svc.sim.configure({ answers: { kind: 'sequence', values: [{ answer: 'abc Z' }, { answer: 'abc' }] } });
    try {
      const body = await runWith({ type: 'object', properties: { answer: { type: 'string', pattern: '^(([a-z ])+)*Z$' } }, required: ['answer'] });
      const valid = body.bundle.replicates.map((r: any) => r.valid).sort();
      expect(valid).toEqual([false, true]);
    } finally {
      svc.sim.configure({ answers: { kind: 'auto' } });
    }
  });
});
