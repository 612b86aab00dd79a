/**
 * A/B of per-run latency between two checkouts of the service, e.g. before and
 * after a change: two service processes against one simulator process, requests
 * interleaved A, B, A, B… so both see the same machine conditions.
 *
 *   git worktree add /tmp/before <commit> && ln -s "$PWD/node_modules" /tmp/before/node_modules
 *   node bench/abCompare.ts /tmp/before . [replicates=1] [requestsPerRound=300]
 *
 * Both sides run from their sources (`node src/server.ts`), so a checkout from
 * before the build step (`npm run build`, dist/) compares as it is; the
 * benchmark suite's service children run the compiled `npm start` entry.
 */
import { spawn } from 'node:child_process';
const [dirA, dirB] = [process.argv[2]!, process.argv[3]!];
const reps = Number(process.argv[4] ?? 1);
const rounds = 5, perRound = Number(process.argv[5] ?? 300);
const sim = spawn(process.execPath, ['src/providers/simulator/main.ts'], { cwd: dirB, env: { ...process.env, SIMULATOR_PORT: '18111' }, stdio: 'ignore' });
function start(dir: string, port: number) {
  return spawn(process.execPath, ['src/server.ts'], { cwd: dir, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', OPENAI_BASE_URL: 'http://127.0.0.1:18111/v1', OPENAI_API_KEY: 'sk-x', MAX_REPLICATES: '100', MAX_CONCURRENCY: '100', RATE_LIMIT_MAX: '0' }, stdio: 'ignore' });
}
const a = start(dirA, 18112), b = start(dirB, 18113);
await new Promise((r) => setTimeout(r, 4000));
const body = JSON.stringify({ tool: 'bundle', input: 'What is the capital of France?', replicates: reps });
const one = async (port: number) => { const t = performance.now(); const r = await fetch(`http://127.0.0.1:${port}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }); await r.json(); return performance.now() - t; };
for (let i = 0; i < Math.min(300, perRound); i++) { await one(18112); await one(18113); }
const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
const ra: number[] = [], rb: number[] = [];
for (let r = 0; r < rounds; r++) {
  const A: number[] = [], B: number[] = [];
  for (let i = 0; i < perRound; i++) { A.push(await one(18112)); B.push(await one(18113)); }
  ra.push(med(A)); rb.push(med(B));
}
console.log(`before p50 ${med(ra).toFixed(3)} ms  after p50 ${med(rb).toFixed(3)} ms  (round medians before ${ra.map((x) => x.toFixed(2)).join('/')} after ${rb.map((x) => x.toFixed(2)).join('/')})`);
for (const p of [a, b, sim]) p.kill();
process.exit(0);
