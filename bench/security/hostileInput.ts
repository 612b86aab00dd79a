/**
 * Hostile input probe: `npm run security:probe`.
 *
 * Starts the service as `npm start` does (in this process, the embedded
 * simulator as its provider), sends each attack of the corpus
 * (bench/security/corpus.ts, the same list test/e2e/hostileInput.test.ts
 * asserts on) while polling `/healthz` back to back, and prints per attack
 * the answer, how long it took and the slowest `/healthz` during it. The
 * service shares its event loop with every request, so an attack that
 * stalls it shows up as a slow health check. SECURITY.md quotes the figures.
 */
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.ts';
import { patternRedactor } from '../../src/lib/redaction.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startService } from '../../src/server.ts';
import { ATTACKS } from './corpus.ts';

const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', OPENAI_API_KEY: '', OPENAI_BASE_URL: '' });
const logger = createLogger({ level: 'warn', redact: patternRedactor(config.REDACT_PATTERNS), destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const service = await startService(config, logger);
const simulator = service.simulator;
if (simulator === null) throw new Error('the probe needs the embedded simulator');

const rows: string[][] = [['attack', 'answer', 'ms', 'max /healthz ms', 'probes']];
let failures = 0;
try {
  for (const attack of ATTACKS) {
    simulator.configure({ answers: attack.answers ?? { kind: 'auto' } });
    let done = false;
    let maxHealth = 0;
    let probes = 0;
    const probe = (async () => {
      while (!done) {
        const t = performance.now();
        const res = await fetch(`${service.url}/healthz`);
        await res.text();
        maxHealth = Math.max(maxHealth, performance.now() - t);
        probes++;
      }
    })();
    const started = performance.now();
    const res = await fetch(`${service.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...attack.headers }, body: attack.body });
    const body = (await res.json()) as { status?: string; error?: { code: string; message: string } };
    const took = performance.now() - started;
    done = true;
    await probe;
    const expected = attack.expected;
    const answer = body.error && res.status >= 400 ? `${res.status} ${body.error.code}` : `${res.status} run ${body.status}`;
    const ok = 'refused' in expected ? res.status === expected.refused && expected.message.test(body.error?.message ?? '') : res.status === 200 && body.status === expected.run;
    if (!ok) failures++;
    rows.push([attack.name, `${answer}${ok ? '' : ' (UNEXPECTED)'}`, took.toFixed(0), maxHealth.toFixed(0), String(probes)]);
  }
} finally {
  await service.close();
}

const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
process.stdout.write(`${line(rows[0] as string[])}\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`);
for (const r of rows.slice(1)) process.stdout.write(`${line(r)}\n`);
process.stdout.write(`\nnode ${process.version}, ${ATTACKS.length} attacks, ${failures} unexpected answers\n`);
process.exitCode = failures === 0 ? 0 : 1;
