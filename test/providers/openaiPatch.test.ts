import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport, type Transport } from '../../src/providers/transport.ts';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';

/**
 * patches/openai+<version>.patch (applied by `npm ci`'s postinstall,
 * patch-package): the openai client formats the log details of a successful
 * answer (its headers spread and redacted, the URL parsed and redacted) only
 * at a log level that prints them. Unpatched it does so for every answer,
 * logging off or not: ~7 % of a one-replicate run's CPU (BENCHMARKS.md,
 * tenth pass). The log lines themselves are unchanged.
 */
describe('the openai client as patched', () => {
  let sim: Simulator;
  let transport: Transport;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    transport = createTransport();
  });
  afterAll(async () => {
    await transport.close();
    await sim?.close();
  });

  /** A client whose answers count how often their headers are walked, and a logger that keeps what it is given. */
  function client(logLevel: 'off' | 'warn' | 'info' | 'debug') {
    const walks = { count: 0 };
    const lines: { level: string; args: unknown[] }[] = [];
    const keep = (level: string) => (...args: unknown[]) => void lines.push({ level, args });
    const counting: typeof fetch = async (input, init) => {
      const response = await transport.fetch(input, init);
      const headers = response.headers as Headers & { entries(): IterableIterator<[string, string]> };
      const entries = headers.entries.bind(headers);
      headers.entries = () => {
        walks.count++;
        return entries();
      };
      return response;
    };
    const c = new OpenAI({
      apiKey: 'sk-test',
      baseURL: sim.url,
      maxRetries: 0,
      fetch: counting,
      logLevel,
      logger: { error: keep('error'), warn: keep('warn'), info: keep('info'), debug: keep('debug') },
    });
    return { c, walks, lines };
  }

  const ask = (c: OpenAI) => c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });

  it('walks no answer headers for log lines that will not be printed', async () => {
    for (const level of ['off', 'warn'] as const) {
      const { c, walks, lines } = client(level);
      const answer = await ask(c);
      expect(answer.choices[0]?.message.content).toBeTypeOf('string');
      expect(answer._request_id).toMatch(/^req_/);
      expect(walks.count).toBe(0);
      expect(lines).toEqual([]);
    }
  });

  it('still logs the answer, with its request id and headers, at the levels that print it', async () => {
    const info = client('info');
    await ask(info.c);
    expect(info.lines.map((l) => l.level)).toEqual(['info']);
    expect(String(info.lines[0]?.args[0])).toMatch(/x-request-id: "req_[^"]+"\] post http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions succeeded with status 200 in \d+ms$/);

    const debug = client('debug');
    await ask(debug.c);
    const start = debug.lines.find((l) => l.level === 'debug' && String(l.args[0]).endsWith('response start'));
    expect(start?.args[1]).toMatchObject({ status: 200, headers: { 'content-type': 'application/json', 'x-request-id': expect.stringMatching(/^req_/) } });
    expect(debug.walks.count).toBeGreaterThan(0);
  });
});
