/**
 * Exploratory leak probe:
 * `npm run bench:leak-probe -- [--warmup=3000] [--step=5000] [--steps=6] [--snapshots] [--mix] [--faults] [--v8=FLAG]... [--keep]`.
 *
 * The service of the leak check of scenario 4 (in-process service,
 * RUN_TTL_MS=1000, MAX_RUNS=100, IDEMPOTENCY_TTL_MS=1000, runs of 2
 * replicates, 10 at a time), for as long as asked, printing settled post-GC
 * heap and V8 heap spaces per checkpoint. Plain POSTs by default; --mix uses
 * the leak check's mixed workload (streams, idempotency keys and replays,
 * background runs and GETs, see mixedRun); --schemas / --models send a
 * distinct output_schema / model per run; --faults adds provider 500s and run timeouts; --v8=FLAG passes
 * V8 flags to the service (e.g. --v8=--no-opt --v8=--no-maglev
 * --v8=--no-sparkplug: interpreter only, no compiled code to grow).
 * --snapshots diffs heap snapshots taken after the warm-up, after the first
 * step and at the end: objects allocated during the first step and still
 * alive at the end are what the service retains per run; --keep leaves the
 * snapshot files in the temp directory.
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bytes } from './lib/format.ts';
import { groupByKind, HeapSnapshot } from './lib/heapSnapshot.ts';
import { runMany, runMixed } from './lib/load.ts';
import { MEMORY_EXEC_ARGV, startInprocService, startSimulatorChild, type InprocServiceChild, type NodeChild } from './lib/procs.ts';
import { linearFit } from './lib/stats.ts';
import { ANSWER, runBody } from './lib/workload.ts';

const arg = (name: string, def: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
};
const warmup = arg('warmup', 3000);
const step = arg('step', 5000);
const steps = arg('steps', 6);
const snapshots = process.argv.includes('--snapshots');
const mix = process.argv.includes('--mix');
// Failure paths: 10 % of provider calls answer 500 (retried, some replicates fail) and
// latency jitter of 0–12 ms against timeout_ms=8, so a share of runs time out mid-call.
const faults = process.argv.includes('--faults');
// A distinct output_schema per run (simulator answers generated from the schema), as a client that builds schemas per request sends them.
const schemas = process.argv.includes('--schemas');
// A distinct model name per run (an OpenAI-compatible provider may accept any; the simulator does).
const models = process.argv.includes('--models');
const extraArgv = process.argv.filter((a) => a.startsWith('--v8=')).map((a) => a.slice(5));
let done = 0;
const load = async (count: number) => {
  const out = models
    ? await runMany(svc.origin, (i: number) => ({ ...body, agent: { model: `model-${done + i}` } }), count, 10)
    : schemas
    ? await runMany(svc.origin, (i: number) => ({ ...body, agent: { output_schema: { type: 'object', description: `run ${done + i}`, properties: { answer: { type: 'string', pattern: `(run-${done + i})?` } }, required: ['answer'] } } }), count, 10)
    : mix
      ? await runMixed(svc.origin, body, count, 10, done)
      : await runMany(svc.origin, body, count, 10);
  done += count;
  if (out.failures.length) console.log(out.failures);
  return out;
};
const dir = path.join(os.tmpdir(), `leak-probe-${process.pid}`);
mkdirSync(dir, { recursive: true });

const started: NodeChild[] = [];
const body = runBody(2, faults ? { timeout_ms: 8 } : {});
let svc!: InprocServiceChild;
try {
  const sim = await startSimulatorChild(0);
  started.push(sim);
  await sim.configure({ answers: schemas ? { kind: 'auto' } : { kind: 'fixed', value: ANSWER } });
  if (faults) await sim.configure({ faultRate: { probability: 0.1, status: 500 }, latencyMs: { min: 0, max: 12 } });
  const env = { RUN_TTL_MS: '1000', MAX_RUNS: '100', IDEMPOTENCY_TTL_MS: '1000', ...(faults ? { RETRY_BASE_MS: '1', RETRY_MAX_DELAY_MS: '2' } : {}) };
  svc = await startInprocService(sim.url, env, [...MEMORY_EXEC_ARGV, ...extraArgv]);
  started.push(svc);
  const w = await load(warmup);
  console.log(`warm-up ${warmup} runs, ${w.failed} failed`);
  const xs: number[] = [];
  const ys: number[] = [];
  let m = await svc.settledMemory();
  console.log(`0: heap ${m.heapUsed} (${bytes(m.heapUsed)})`);
  console.log(`   spaces ${JSON.stringify(m.spaces)}`);
  xs.push(0);
  ys.push(m.heapUsed);
  const snapFiles: string[] = [];
  if (snapshots) snapFiles.push((await svc.snapshot(path.join(dir, 's0.heapsnapshot'))).file);
  for (let k = 1; k <= steps; k++) {
    const t0 = performance.now();
    const out = await load(step);
    const rate = out.ok / ((performance.now() - t0) / 1000);
    m = await svc.settledMemory();
    xs.push(k * step);
    ys.push(m.heapUsed);
    console.log(`${k * step}: heap ${m.heapUsed} (${bytes(m.heapUsed)}), Δ ${m.heapUsed - (ys[0] as number)}, ${rate.toFixed(0)} runs/s, failed ${out.failed}`);
    console.log(`   spaces ${JSON.stringify(m.spaces)}`);
    if (snapshots && (k === 1 || k === steps)) snapFiles.push((await svc.snapshot(path.join(dir, `s${k}.heapsnapshot`))).file);
  }
  const fit = linearFit(xs.slice(1), ys.slice(1));
  console.log(`slope after step 1: ${fit.slope.toFixed(2)} B/run; all: ${linearFit(xs, ys).slope.toFixed(2)} B/run`);
  if (snapshots) {
    const [f0, f1, f2] = snapFiles as [string, string, string];
    const s0 = HeapSnapshot.read(f0);
    const ids0 = s0.ids();
    const counts0 = s0.countByKind();
    const s1 = HeapSnapshot.read(f1);
    const ids1 = s1.ids();
    const new1 = s1.newSince(ids0);
    console.log(`\nsnapshot 1 (after ${step} runs): ${s1.nodeCount} nodes, ${new1.length} new since snapshot 0`);
    for (const g of groupByKind(s1, new1).slice(0, 40)) console.log(`  ${g.count}\t${g.size}\t${g.kind}`);
    const s2 = HeapSnapshot.read(f2);
    // Allocated during step 1 and still alive at the end.
    const survivors = s2.newSince(ids0).filter((n) => ids1.has(s2.id(n)));
    const new2 = s2.newSince(ids1);
    console.log(`\nsnapshot ${steps} (after ${steps * step} runs): ${s2.nodeCount} nodes; allocated in step 1 and alive at the end: ${survivors.length}; new since snapshot 1: ${new2.length}`);
    console.log('survivors of step 1:');
    for (const g of groupByKind(s2, survivors).slice(0, 40)) console.log(`  ${g.count}\t${g.size}\t${g.kind}`);
    console.log(`new since snapshot 1 (${(steps - 1) * step} runs):`);
    for (const g of groupByKind(s2, new2).slice(0, 40)) console.log(`  ${g.count}\t${g.size}\t${g.kind}`);
    console.log('\ncount by kind, snapshot 0 → end (|Δ| ≥ 20):');
    const counts2 = s2.countByKind();
    const kinds = new Set([...counts0.keys(), ...counts2.keys()]);
    const diffs = [...kinds]
      .map((k) => ({ k, d: (counts2.get(k)?.count ?? 0) - (counts0.get(k)?.count ?? 0), ds: (counts2.get(k)?.size ?? 0) - (counts0.get(k)?.size ?? 0) }))
      .filter((x) => Math.abs(x.d) >= 20)
      .sort((a, b) => Math.abs(b.d) - Math.abs(a.d));
    for (const x of diffs.slice(0, 50)) console.log(`  ${x.d}\t${x.ds}\t${x.k}`);
    // Where a few survivors hang: retaining paths of up to 3 per leading kind.
    const groups = groupByKind(s2, survivors).slice(0, 8);
    for (const g of groups) {
      const sample = survivors.filter((n) => s2.kind(n) === g.kind).slice(0, 2);
      for (const n of sample) {
        const p = s2.retainingPath(n);
        console.log(`\npath to ${g.kind} @${s2.id(n)}:\n  ${p ? p.slice(-12).join('\n  ') : '(unreachable)'}`);
      }
    }
  }
} finally {
  for (const c of started.reverse()) await c.stop();
  if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  else console.log(`snapshots kept in ${dir}`);
}
