/**
 * 5. Scaling: how a run's time, service CPU and memory grow with the number
 * of replicates (pairwise distances are O(n²)) and with the size of each
 * output. Runs one at a time against a zero-latency simulator, so the
 * figures are the service's own cost.
 *
 * Service in-process in a --expose-gc child (CPU and post-GC heap over IPC).
 */
import { bytes, ms } from '../lib/format.ts';
import { postRun, runMany } from '../lib/load.ts';
import { table } from '../lib/markdown.ts';
import { MEMORY_EXEC_ARGV, startInprocService, startSimulatorChild, type InprocServiceChild, type NodeChild, type SimulatorChild } from '../lib/procs.ts';
import type { Scenario, ScenarioContext, TargetCheck } from '../lib/scenario.ts';
import { median, round } from '../lib/stats.ts';
import { runBody } from '../lib/workload.ts';

export interface Point {
  label: string;
  replicates: number;
  outputBytes: number | null;
  runs: number;
  wallP50: number;
  cpuMsPerRun: number;
  cpuMsPerReplicate: number;
  responseBytes: number;
  retainedPerRun: number;
  errors: number;
}

export interface ScalingResult {
  byReplicates: Point[];
  byOutputSize: Point[];
  outputReplicates: number;
}

/** A JSON object of roughly `size` bytes; `variant` changes some leaves so outputs differ. */
export function bigObject(size: number, variant = 0): Record<string, unknown> {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
  const items: unknown[] = [];
  const obj = { title: `report ${variant % 3}`, items };
  let i = 0;
  while (JSON.stringify(obj).length < size) {
    const text = Array.from({ length: 8 }, (_, k) => words[(i * 7 + k * 3 + (k === i % 8 ? variant : 0)) % words.length]).join(' ');
    items.push({ id: i, name: `item-${i}`, text, score: Math.round(((i * 37 + variant * 11) % 100) * 10) / 10, ok: (i + variant) % 5 !== 0 });
    i++;
  }
  return obj;
}

interface Config {
  label: string;
  replicates: number;
  outputBytes: number | null;
  runs: number;
  body: Record<string, unknown>;
  /** Simulator answers for this config (default answers when absent). */
  answers?: unknown;
}

/**
 * Runs each config's runs one at a time after a few untimed warm-up runs.
 * Memory is read between configs after an idle settle, so one reading
 * closes a config and opens the next: retained / run = heap growth over the
 * config ÷ its runs including warm-up (every record stays in the store:
 * default RUN_TTL_MS and MAX_RUNS).
 */
async function measureAll(ctx: ScenarioContext, svc: InprocServiceChild, sim: SimulatorChild, configs: Config[], warmup: number): Promise<Point[]> {
  // Quick mode skips the idle settle before readings (they then wander by ~1–3 MB).
  const read = () => (ctx.quick ? svc.memory() : svc.settledMemory());
  const points: Point[] = [];
  let before = await read();
  for (const c of configs) {
    if (c.answers) await sim.configure({ answers: c.answers as never });
    else await sim.reset();
    // Warm-up runs are untimed but stay in the store like the others, so they count for retained / run.
    for (let i = 0; i < warmup; i++) await postRun(svc.origin, c.body);
    const cpu0 = await svc.cpu();
    const walls: number[] = [];
    let responseBytes = 0;
    let errors = 0;
    for (let i = 0; i < c.runs; i++) {
      const t = performance.now();
      const res = await postRun(svc.origin, c.body);
      walls.push(performance.now() - t);
      responseBytes = res.bytes;
      if (res.status !== 200 || res.run?.status !== 'succeeded') errors++;
    }
    const cpu1 = await svc.cpu();
    const after = await read();
    const cpuMs = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000 / c.runs;
    const p: Point = {
      label: c.label,
      replicates: c.replicates,
      outputBytes: c.outputBytes,
      runs: c.runs,
      wallP50: round(median(walls), 3),
      cpuMsPerRun: round(cpuMs, 3),
      cpuMsPerReplicate: round(cpuMs / c.replicates, 4),
      responseBytes,
      retainedPerRun: round((after.heapUsed - before.heapUsed) / (c.runs + warmup), 0),
      errors,
    };
    before = after;
    points.push(p);
    ctx.log(`${p.label}: wall ${p.wallP50.toFixed(1)} ms, CPU ${p.cpuMsPerRun.toFixed(2)} ms/run (${p.cpuMsPerReplicate.toFixed(3)} ms/replicate), response ${bytes(p.responseBytes)}, retained ${bytes(p.retainedPerRun)}/run, errors ${p.errors}`);
  }
  return points;
}

export const scalingScenario: Scenario<ScalingResult> = {
  id: 5,
  key: 'scaling',
  title: 'Scaling with replicates and output size',
  async run(ctx) {
    const started: NodeChild[] = [];
    const outputReplicates = 10;
    try {
      const sim: SimulatorChild = await startSimulatorChild(0);
      started.push(sim);
      const svc = await startInprocService(sim.url, { MAX_CONCURRENCY: '100' }, MEMORY_EXEC_ARGV);
      started.push(svc);
      ctx.log('warm-up');
      await runMany(svc.origin, runBody(5), ctx.quick ? 100 : 300, 4);
      // Many runs where they are cheap: retained / run divides a difference of two heap readings.
      const plan = ctx.quick ? [[1, 10], [10, 3], [50, 1], [100, 1]] : [[1, 200], [10, 60], [50, 12], [100, 8]];
      const sizes = ctx.quick ? [[1024, 1], [10_240, 1], [102_400, 1]] : [[1024, 10], [10_240, 8], [102_400, 5]];
      const configs: Config[] = [];
      // Default simulator answers: a different sentence per seed, so every pair is really compared.
      for (const [n, runs] of plan as [number, number][]) configs.push({ label: `${n} replicates`, replicates: n, outputBytes: null, runs, body: runBody(n) });
      const structured = runBody(outputReplicates, { agent: { output_schema: { type: 'object' } } });
      for (const [size, runs] of sizes as [number, number][]) {
        configs.push({ label: `${bytes(size)} identical`, replicates: outputReplicates, outputBytes: size, runs, body: structured, answers: { kind: 'fixed', value: bigObject(size) } });
        configs.push({
          label: `${bytes(size)} distinct`,
          replicates: outputReplicates,
          outputBytes: size,
          runs,
          body: structured,
          answers: { kind: 'sequence', values: Array.from({ length: outputReplicates }, (_, v) => bigObject(size, v)) },
        });
      }
      const points = await measureAll(ctx, svc, sim, configs, ctx.quick ? 1 : 2);
      await sim.reset();
      return { byReplicates: points.filter((p) => p.outputBytes === null), byOutputSize: points.filter((p) => p.outputBytes !== null), outputReplicates };
    } finally {
      for (const c of started.reverse()) await c.stop();
    }
  },
  render(r) {
    const growth = (points: Point[], i: number, key: 'cpuMsPerRun' | 'retainedPerRun', x: (p: Point) => number) => {
      const a = points[i - 1];
      const b = points[i];
      if (!a || !b || a[key] <= 0 || b[key] <= 0) return '';
      return `n^${(Math.log(b[key] / a[key]) / Math.log(x(b) / x(a))).toFixed(2)}`;
    };
    return [
      `One run at a time (tool \`bundle\`) against a 0 ms simulator; service in-process in a \`--expose-gc --no-flush-bytecode\` child (CPU from \`process.cpuUsage()\`, heap after forced full GCs, both over IPC); MAX_CONCURRENCY=100; every configuration is warmed up first. "Retained / run" = post-GC heap growth per finished run kept in the store (record + event log, default RUN_TTL_MS/MAX_RUNS), from readings taken once the service has no open connection left. "Local exponent" = log-log slope against the previous row.`,
      '',
      '**By replicates** (default simulator answers: a different short sentence per replicate, so every pair is compared as text).',
      '',
      table(
        ['replicates', 'runs', 'wall p50', 'service CPU / run', 'CPU / replicate', 'local exponent (CPU)', 'response', 'retained / run', 'local exponent (memory)', 'errors'],
        r.byReplicates.map((p, i) => [
          p.replicates,
          p.runs,
          ms(p.wallP50, 1),
          ms(p.cpuMsPerRun, 2),
          ms(p.cpuMsPerReplicate, 3),
          growth(r.byReplicates, i, 'cpuMsPerRun', (q) => q.replicates),
          bytes(p.responseBytes),
          bytes(p.retainedPerRun),
          growth(r.byReplicates, i, 'retainedPerRun', (q) => q.replicates),
          p.errors,
        ]),
        ['r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'l', 'r'],
      ),
      '',
      `**By output size** (${r.outputReplicates} replicates, \`agent.output_schema: {type: "object"}\` so outputs are JSON objects compared structurally; simulator \`answers: {kind: "fixed"}\` = identical outputs, \`{kind: "sequence"}\` = ${r.outputReplicates} variants differing in some leaves).`,
      '',
      table(
        ['output', 'runs', 'wall p50', 'service CPU / run', 'CPU / replicate', 'response', 'retained / run', 'errors'],
        r.byOutputSize.map((p) => [p.label, p.runs, ms(p.wallP50, 1), ms(p.cpuMsPerRun, 2), ms(p.cpuMsPerReplicate, 3), bytes(p.responseBytes), bytes(p.retainedPerRun), p.errors]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    ].join('\n');
  },
  targets(r): TargetCheck[] {
    const p100 = r.byReplicates.find((p) => p.replicates === 100);
    return p100 ? [{ target: '100 replicates in one run without errors (scaling runs)', measured: `${p100.errors} failed of ${p100.runs}`, met: p100.errors === 0 }] : [];
  },
};
