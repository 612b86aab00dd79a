/**
 * 4. Memory. (a) RSS and heap per concurrent orchestration at 100 and 1,000
 * concurrent runs of 5 replicates, all in flight at once (long simulator
 * latency). (b) Leak check over 10,000 finished runs of a mixed workload
 * with a small TTL and MAX_RUNS, so records are evicted: heap after full GC
 * at checkpoints, and heap snapshots after the warm-up, halfway and at the
 * end, compared object by object.
 *
 * The service runs in-process (startService) in a child started with
 * --expose-gc, which forces full GCs, reports process.memoryUsage() and
 * writes heap snapshots over IPC: the only way to read post-GC heap from
 * the service process without exposing anything new over HTTP.
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bytes, num } from '../lib/format.ts';
import { snapshotSurvival, type KindCount, type SnapshotSurvival } from '../lib/heapSnapshot.ts';
import { postRun, runMany, runMixed } from '../lib/load.ts';
import { table } from '../lib/markdown.ts';
import { getJson, MEMORY_EXEC_ARGV, startInprocService, startSimulatorChild, type MemorySample, type NodeChild } from '../lib/procs.ts';
import type { Scenario, TargetCheck } from '../lib/scenario.ts';
import { round, sleep, slopeWithCi } from '../lib/stats.ts';
import { ANSWER, runBody } from '../lib/workload.ts';

const REPLICATES = 5;
/** Client-side concurrency of the leak check (near the best throughput of scenario 3 for 5 replicates). */
const LEAK_CONCURRENCY = 10;
/** Replicates per run in the leak check: more than one so pairwise/summary paths run, few enough for 10,000 runs to fit the time budget. */
const LEAK_REPLICATES = 2;
/**
 * The leak verdict: no kind of program object may have survivors from the
 * first half's runs in more than this share of them. A leak of one object
 * per run (of any kind) is 100 times this; healthy runs leave none.
 */
const MAX_SURVIVORS_PER_RUN = 0.01;
/**
 * …and no object may grow in both halves by more than this many bytes per
 * run (a leak into one array, Map or Set adds bytes, not objects: 8 B per
 * run for a pushed small integer).
 */
const MAX_GROWTH_PER_RUN = 1;

export interface ConcurrentResult {
  runs: number;
  latencyMs: number;
  inFlightCalls: number;
  base: MemorySample;
  loaded: MemorySample;
  afterDone: MemorySample;
  heapPerRun: number;
  rssPerRun: number;
  retainedPerFinishedRun: number;
  launchMs: number;
  errors: number;
  failures: string[];
}

export interface LeakCheckpoint {
  runs: number;
  heapUsed: number;
  rss: number;
  /** V8 compiled code and its metadata: code_space + trusted_space (absent in older results). */
  codeBytes?: number;
}

/** Heap snapshots after the warm-up, halfway and at the end of the leak check (bench/lib/heapSnapshot.ts). */
export interface LeakObjects extends SnapshotSurvival {
  /** Runs between the baseline and the middle snapshot: the window whose survivors are counted. */
  windowRuns: number;
  /** Largest survivor count of one program-object kind, per window run. */
  maxKindPerRun: number;
  /** Steadiest grower's growth per run: the smaller of its two halves' growth, per run of that half (0 when none grew in both). */
  maxGrowthPerRun: number;
  snapshotMs: number;
}

export interface MemoryResult {
  replicates: number;
  concurrent: ConcurrentResult[];
  leak: {
    /** Quick mode: readings are not settled, so the verdict is not decided. */
    quick?: boolean;
    replicates: number;
    runTtlMs: number;
    maxRuns: number;
    runs: number;
    warmupRuns: number;
    checkpoints: LeakCheckpoint[];
    growthBytes: number;
    /** Growth from the end of the first step to the end. */
    steadyGrowthBytes: number;
    /** Least-squares slope from the end of the first step on (older results); over every checkpoint since the mixed workload. */
    slopeBytesPerRun: number;
    /** 95 % confidence half-width of the slope (t, n − 2 degrees of freedom). */
    slopeCi95?: number;
    /** Least-squares slope of V8 code + metadata (code_space + trusted_space). */
    codeSlopeBytesPerRun?: number;
    /** 'mixed': streams, idempotency keys and replays, background runs, GETs (bench/lib/load.ts mixedRun); absent: plain POSTs. */
    workload?: 'mixed';
    objects?: LeakObjects;
    errors: number;
    activeAfter: number;
  };
}

export const memoryScenario: Scenario<MemoryResult> = {
  id: 4,
  key: 'memory',
  title: 'Memory per orchestration and leak check',
  async run(ctx) {
    const concurrent: ConcurrentResult[] = [];
    let leak: MemoryResult['leak'];
    {
      const started: NodeChild[] = [];
      try {
        const sim = await startSimulatorChild(0);
        started.push(sim);
        await sim.configure({ answers: { kind: 'fixed', value: ANSWER } });
        const svc = await startInprocService(sim.url, { MAX_GLOBAL_CONCURRENCY: '10000', PROVIDER_MAX_CONCURRENCY: '10000' }, MEMORY_EXEC_ARGV);
        started.push(svc);
        ctx.log('warm-up');
        await runMany(svc.origin, runBody(REPLICATES), ctx.quick ? 100 : 200, 20);
        for (const n of ctx.quick ? [100] : [100, 1000]) {
          // Long enough that the last run's calls are out before the first one's come back (launching costs service CPU).
          const latencyMs = n >= 1000 ? 15_000 : ctx.quick ? 2000 : 4000;
          await sim.configure({ latencyMs });
          // Quick mode skips the idle settle (readings then wander by ~1–3 MB).
          const base = ctx.quick ? await svc.memory() : await svc.settledMemory();
          const t0 = performance.now();
          const pending = Array.from({ length: n }, () => postRun(svc.origin, runBody(REPLICATES)).catch((e: unknown) => ({ status: 0, run: { error: String(e) }, bytes: 0 })));
          // Wait until every replicate of every run is in flight at the simulator.
          const deadline = performance.now() + latencyMs - 500;
          let inFlight = 0;
          while (performance.now() < deadline) {
            inFlight = (await sim.stats()).inFlight;
            if (inFlight >= n * REPLICATES) break;
            await sleep(25);
          }
          const launchMs = performance.now() - t0;
          const loaded = await svc.memory();
          const results = await Promise.all(pending);
          await sim.configure({ latencyMs: 0 });
          const afterDone = ctx.quick ? await svc.memory() : await svc.settledMemory();
          const failed = results.filter((r) => r.status !== 200 || r.run?.status !== 'succeeded');
          const c: ConcurrentResult = {
            runs: n,
            latencyMs,
            inFlightCalls: inFlight,
            base,
            loaded,
            afterDone,
            heapPerRun: round((loaded.heapUsed - base.heapUsed) / n, 0),
            rssPerRun: round((loaded.rss - base.rss) / n, 0),
            retainedPerFinishedRun: round((afterDone.heapUsed - base.heapUsed) / n, 0),
            launchMs: round(launchMs, 0),
            errors: failed.length,
            failures: failed.slice(0, 5).map((f) => `${f.status} ${JSON.stringify(f.run?.error ?? f.run).slice(0, 200)}`),
          };
          concurrent.push(c);
          ctx.log(`${n} concurrent runs (${inFlight} calls in flight after ${c.launchMs} ms): heap +${bytes(c.heapPerRun)}/run, RSS +${bytes(c.rssPerRun)}/run, retained after finish ${bytes(c.retainedPerFinishedRun)}/run, errors ${c.errors}`);
        }
      } finally {
        for (const c of started.reverse()) await c.stop();
      }
    }
    {
      const started: NodeChild[] = [];
      const runTtlMs = 1000;
      const maxRuns = 100;
      const snapDir = path.join(os.tmpdir(), `bench-leak-${process.pid}`);
      mkdirSync(snapDir, { recursive: true });
      try {
        const sim = await startSimulatorChild(0);
        started.push(sim);
        await sim.configure({ answers: { kind: 'fixed', value: ANSWER } });
        const svc = await startInprocService(
          sim.url,
          { RUN_TTL_MS: String(runTtlMs), MAX_RUNS: String(maxRuns), IDEMPOTENCY_TTL_MS: String(runTtlMs) },
          MEMORY_EXEC_ARGV,
        );
        started.push(svc);
        const total = ctx.quick ? 400 : 10_000;
        const steps = ctx.quick ? 2 : 10;
        // Long enough that the one-time growth of the first few thousand runs (JIT feedback, pools, V8 caches) is over.
        const warmupRuns = ctx.quick ? 200 : 3000;
        const body = runBody(LEAK_REPLICATES);
        let done = 0;
        const load = async (count: number) => {
          const out = await runMixed(svc.origin, body, count, LEAK_CONCURRENCY, done);
          done += count;
          return out;
        };
        ctx.log(`leak check: warm-up ${warmupRuns} runs, then ${total} mixed runs of ${LEAK_REPLICATES} replicates in ${steps} steps (RUN_TTL_MS=${runTtlMs}, MAX_RUNS=${maxRuns})`);
        let errors = (await load(warmupRuns)).failed;
        // Past the TTL plus one sweep every finished record is gone; settledMemory also waits for idle sockets to close.
        const settle = async () => {
          if (!ctx.quick) return svc.settledMemory();
          await sleep(runTtlMs + 1200);
          return svc.memory();
        };
        const codeBytes = (m: MemorySample) => (m.spaces ? (m.spaces.code_space ?? 0) + (m.spaces.trusted_space ?? 0) : undefined);
        const checkpoint = (runs: number, m: MemorySample): LeakCheckpoint => ({ runs, heapUsed: m.heapUsed, rss: m.rss, ...(m.spaces ? { codeBytes: codeBytes(m) } : {}) });
        let snapshotMs = 0;
        const snapshot = async (name: string) => {
          const t0 = performance.now();
          const { file } = await svc.snapshot(path.join(snapDir, `${name}.heapsnapshot`));
          snapshotMs += performance.now() - t0;
          return file;
        };
        const checkpoints: LeakCheckpoint[] = [checkpoint(0, await settle())];
        // Snapshots come after the reading of their checkpoint; both use the same last-resort GC.
        const baselineFile = await snapshot('baseline');
        let middleFile = '';
        for (let k = 1; k <= steps; k++) {
          const out = await load(total / steps);
          errors += out.failed;
          const m = await settle();
          checkpoints.push(checkpoint((k * total) / steps, m));
          ctx.log(`  after ${(k * total) / steps} runs (${num(out.ok / (out.wallMs / 1000))} runs/s): heap ${bytes(m.heapUsed)}, code+metadata ${bytes(codeBytes(m))}, RSS ${bytes(m.rss)}`);
          if (k === steps / 2) middleFile = await snapshot('middle');
        }
        const endFile = await snapshot('end');
        const t0 = performance.now();
        const survival = snapshotSurvival({ baseline: baselineFile, middle: middleFile, end: endFile });
        const windowRuns = total / 2;
        const objects: LeakObjects = {
          windowRuns,
          ...survival,
          maxKindPerRun: (survival.survivorKinds[0]?.count ?? 0) / windowRuns,
          maxGrowthPerRun: survival.growers[0]
            ? round(Math.min((survival.growers[0].sizes[1] - survival.growers[0].sizes[0]) / windowRuns, (survival.growers[0].sizes[2] - survival.growers[0].sizes[1]) / (total - windowRuns)), 3)
            : 0,
          snapshotMs: round(snapshotMs, 0),
        };
        ctx.log(
          `  snapshots (${num(snapshotMs / 1000, 1)} s to write, ${num((performance.now() - t0) / 1000, 1)} s to compare): of the objects allocated in the first ${num(windowRuns)} runs, alive at the end: ${num(objects.survivors.js)} program objects (${bytes(objects.survivors.jsBytes)}; most: ${survival.survivorKinds[0] ? `${survival.survivorKinds[0].count} ${survival.survivorKinds[0].kind}` : 'none'}), ${num(objects.survivors.vm)} code/metadata (${bytes(objects.survivors.vmBytes)})`,
        );
        const fit = slopeWithCi(checkpoints.map((c) => c.runs), checkpoints.map((c) => c.heapUsed));
        const codeFit = checkpoints.every((c) => c.codeBytes !== undefined)
          ? slopeWithCi(checkpoints.map((c) => c.runs), checkpoints.map((c) => c.codeBytes as number))
          : null;
        const ready = await getJson<{ checks: { active_runs: number } }>(`${svc.origin}/readyz`);
        leak = {
          quick: ctx.quick,
          replicates: LEAK_REPLICATES,
          runTtlMs,
          maxRuns,
          runs: total,
          warmupRuns,
          checkpoints,
          growthBytes: (checkpoints.at(-1) as LeakCheckpoint).heapUsed - (checkpoints[0] as LeakCheckpoint).heapUsed,
          steadyGrowthBytes: (checkpoints.at(-1) as LeakCheckpoint).heapUsed - (checkpoints[1] as LeakCheckpoint).heapUsed,
          slopeBytesPerRun: round(fit.slope, 2),
          slopeCi95: round(fit.ci95, 2),
          ...(codeFit ? { codeSlopeBytesPerRun: round(codeFit.slope, 2) } : {}),
          workload: 'mixed',
          objects,
          errors,
          activeAfter: ready.checks.active_runs,
        };
      } finally {
        for (const c of started.reverse()) await c.stop();
        // BENCH_KEEP_SNAPSHOTS=1 keeps the three snapshots for a closer look (Chrome DevTools, bench/lib/heapSnapshot.ts).
        if (process.env.BENCH_KEEP_SNAPSHOTS === '1') ctx.log(`  heap snapshots kept in ${snapDir}`);
        else rmSync(snapDir, { recursive: true, force: true });
      }
    }
    return { replicates: REPLICATES, concurrent, leak };
  },
  render(r) {
    const c = r.concurrent;
    const l = r.leak;
    return [
      `Service in-process (\`startService\`) in a child started with \`--expose-gc --no-flush-bytecode\`; heap figures are \`heapUsed\` after forced full GCs (a last-resort GC, which also empties V8's own caches, then a regular one), reported over IPC; "before" and "retained" readings are taken once the service has no open connection left (idle keep-alive sockets closed), so pooled sockets are not counted. Runs of ${r.replicates} replicates (tool \`bundle\`) posted at once and held open by the bench process; the simulator's latency keeps every call in flight while memory is read; MAX_GLOBAL_CONCURRENCY=10000 and PROVIDER_MAX_CONCURRENCY=10000 so no call waits in the global queue or under the per-model limit (its default, 512, would hold 1,000 × 5 calls in ten waves of the 15 s latency, past the runs' 120 s timeout). Launch time = until every call is in flight at the simulator. Per-run figures are deltas over the baseline taken just before, divided by the number of runs (RSS rarely shrinks, so its delta is only meaningful when the run count is large enough to grow the heap); they include each run's HTTP request/response state, its 5 outgoing provider calls, the live record and its events.`,
      '',
      table(
        ['concurrent runs', 'calls in flight', 'launch time', 'heap before → loaded', 'RSS before → loaded', 'heap / run', 'RSS / run', 'retained / finished run (in store)', 'errors', 'target'],
        c.map((x) => [
          num(x.runs),
          num(x.inFlightCalls),
          `${num(x.launchMs)} ms`,
          `${bytes(x.base.heapUsed)} → ${bytes(x.loaded.heapUsed)}`,
          `${bytes(x.base.rss)} → ${bytes(x.loaded.rss)}`,
          bytes(x.heapPerRun),
          bytes(x.rssPerRun),
          bytes(x.retainedPerFinishedRun),
          x.errors,
          '< 100 KB / run; 0 errors',
        ]),
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
      '',
      ...renderLeak(l),
    ].join('\n');
  },
  targets(r): TargetCheck[] {
    const checks: TargetCheck[] = [];
    for (const c of r.concurrent) {
      checks.push({
        target: `< 100 KB retained per concurrent orchestration of 5 replicates (${num(c.runs)} concurrent)`,
        measured: `${bytes(c.heapPerRun)} heap / run (RSS ${bytes(c.rssPerRun)} / run)`,
        met: c.heapPerRun < 100 * 1024,
      });
    }
    const c1000 = r.concurrent.find((c) => c.runs === 1000);
    if (c1000) checks.push({ target: '1,000 concurrent runs without errors', measured: `${c1000.errors} failed of 1,000`, met: c1000.errors === 0 });
    checks.push(leakTarget(r.leak));
    return checks;
  },
};

type Leak = MemoryResult['leak'];

/** A kind name inside a table cell. */
function cell(kind: string): string {
  return kind.replace(/\|/g, '\\|');
}

/** "12 Foo, 3 Bar" */
function kinds(list: KindCount[], n = 4): string {
  return list.length === 0 ? 'none' : list.slice(0, n).map((k) => `${num(k.count)} ${cell(k.kind)}`).join(', ');
}

function signedNum(v: number): string {
  return v > 0 ? `+${num(v)}` : v < 0 ? `−${num(-v)}` : '0';
}

function signedBytes(v: number): string {
  return v > 0 ? `+${bytes(v)}` : v < 0 ? bytes(v) : '0';
}

/** The leak-check part of the section: method, checkpoints, snapshot comparison. */
function renderLeak(l: Leak): string[] {
  const first = l.checkpoints[0] as LeakCheckpoint;
  const o = l.objects;
  const lines = [
    `**Leak check**: RUN_TTL_MS=${l.runTtlMs}, MAX_RUNS=${l.maxRuns}${l.workload === 'mixed' ? `, IDEMPOTENCY_TTL_MS=${l.runTtlMs}` : ''}; ${num(l.warmupRuns)} warm-up runs, then ${num(l.runs)} runs of ${l.replicates} replicates (${LEAK_CONCURRENCY} at a time)${l.workload === 'mixed' ? ' of a mixed workload — per 10 runs: 6 plain POSTs, 1 streamed over SSE, 1 with an Idempotency-Key then its replay, 1 in the background polled with GET until done, 1 POST then a GET of its record (`mixedRun`, bench/lib/load.ts), so every path that keeps per-run state is taken' : ''} — with a checkpoint every ${num(l.runs / (l.checkpoints.length - 1))}; each checkpoint waits past the TTL and a store sweep until the service has no open connection left, then forces full GCs (a last-resort GC, which also empties V8's own caches, then a regular one). Errors: ${l.errors}; active runs afterwards: ${l.activeAfter}.`,
    '',
    table(
      ['runs finished', 'heap used', 'Δ heap vs start', 'of which V8 code + metadata', 'RSS'],
      l.checkpoints.map((p) => [
        num(p.runs),
        bytes(p.heapUsed),
        signedBytes(p.heapUsed - first.heapUsed),
        p.codeBytes !== undefined && first.codeBytes !== undefined ? signedBytes(p.codeBytes - first.codeBytes) : 'n/a',
        bytes(p.rss),
      ]),
      ['r', 'r', 'r', 'r', 'r'],
    ),
    '',
  ];
  if (!o) {
    lines.push(`Growth over all ${num(l.runs)} runs: ${bytes(l.growthBytes)}; least-squares slope ${l.slopeBytesPerRun.toFixed(1)} B/run (plain POSTs, no snapshots: a result of the earlier method).`);
    return lines;
  }
  lines.push(
    `Heap over all ${num(l.runs)} runs: ${signedBytes(l.growthBytes)}; least-squares slope ${l.slopeBytesPerRun.toFixed(1)} ± ${(l.slopeCi95 ?? Number.NaN).toFixed(1)} B/run (95 % CI over ${l.checkpoints.length} checkpoints, residuals taken as independent; they are not quite, so read it as indicative), of which V8 compiled code and its metadata (\`code_space\` + \`trusted_space\`) ${(l.codeSlopeBytesPerRun ?? Number.NaN).toFixed(1)} B/run. Compiled code keeps growing slowly while V8 re-optimizes hot functions (a 20,000-run trial with the optimizing tiers off, \`--no-opt --no-maglev --no-sparkplug\`, stayed flat within ±60 KB, 2026-11-29), so \`heapUsed\` alone cannot say "zero": the snapshots below decide.`,
    '',
    `**Heap snapshots** (\`v8.writeHeapSnapshot\` in the service after the same GCs; object ids persist across snapshots of a process, so each object of the last snapshot is known as old or new): after the warm-up, after ${num(o.windowRuns)} runs and at the end. An object allocated during the first ${num(o.windowRuns)} runs and still alive ${num(l.runs - o.windowRuns)} runs later is retained for good; a leak grows that set with every run, one-time state does not. Program objects (objects, closures, arrays, strings, numbers held by anything but compiled code or V8 metadata) are counted apart from V8's code and metadata (code objects, maps, feedback, and the constants and internalized names only they hold). Writing the 3 snapshots took ${num(o.snapshotMs / 1000, 1)} s.`,
    '',
    table(
      ['', 'program objects', 'bytes', 'V8 code + metadata', 'bytes', 'program-object kinds'],
      [
        ['live after the warm-up', num(o.baseline.js), bytes(o.baseline.jsBytes), num(o.baseline.vm), bytes(o.baseline.vmBytes), ''],
        ['live at the end', num(o.end.js), bytes(o.end.jsBytes), num(o.end.vm), bytes(o.end.vmBytes), `count moved most: ${o.countDelta.length === 0 ? 'none' : o.countDelta.slice(0, 4).map((k) => `${signedNum(k.count)} ${cell(k.kind)}`).join(', ')}`],
        [`allocated in the first ${num(o.windowRuns)} runs, alive at the end`, num(o.survivors.js), bytes(o.survivors.jsBytes), num(o.survivors.vm), bytes(o.survivors.vmBytes), kinds(o.survivorKinds)],
        [`allocated in all ${num(l.runs)} runs, alive at the end`, num(o.newAtEnd.js), bytes(o.newAtEnd.jsBytes), num(o.newAtEnd.vm), bytes(o.newAtEnd.vmBytes), kinds(o.newAtEndKinds)],
        [
          '**change, warm-up → end**',
          signedNum(o.end.js - o.baseline.js),
          signedBytes(o.end.jsBytes - o.baseline.jsBytes),
          signedNum(o.end.vm - o.baseline.vm),
          signedBytes(o.end.vmBytes - o.baseline.vmBytes),
          o.bytesDelta?.length ? `bytes moved most: ${o.bytesDelta.slice(0, 3).map((k) => `${signedBytes(k.bytes)} ${cell(k.kind)}`).join(', ')}` : '',
        ],
      ],
      ['l', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
    `Objects alive in all three snapshots that grew in both halves, steadiest first (a leak into one array, Map or Set adds bytes, not objects; owned size = self + backing stores, after the warm-up → halfway → end): ${
      o.growers?.length
        ? o.growers
            .slice(0, 3)
            .map((g) => `${cell(g.kind)} ${g.sizes.map((b) => bytes(b)).join(' → ')}${g.path ? ` (held via ${cell(g.path.replaceAll('--', ''))})` : ''}`)
            .join('; ')
        : 'none'
    }.`,
    '',
    `Verdict rule: no kind of program object may have more survivors from the first ${num(o.windowRuns)} runs than ${MAX_SURVIVORS_PER_RUN * 100} % of those runs (${num(o.windowRuns * MAX_SURVIVORS_PER_RUN)}), and no object may grow in both halves by more than ${MAX_GROWTH_PER_RUN} B per run; a leak of one object per run of any kind would be 100 times the first bound, a small integer pushed per run 8 times the second, and a leaked run record (~20–40 KB, dozens of objects) far more (a planted leak of one \`{ id }\` object and one small integer per run, 2026-11-29: 5,000 survivors and the two arrays growing 35 → 80 → 120 KiB, ❌, while its heap slope, 98 ± 39 B/run, overlapped a clean run's). Largest here: ${o.survivorKinds[0] ? `${num(o.survivorKinds[0].count)} ${o.survivorKinds[0].kind} (${o.maxKindPerRun.toFixed(4)} per run)` : 'none'}; steadiest growth ${(o.maxGrowthPerRun ?? 0).toFixed(2)} B/run. Client-chosen values that name cached things — a distinct \`output_schema\` or model per run — are bounded by caches larger than this window (256 schemas, 1,000 breakers, 100 model wrappers and metric labels) and are checked with \`npm run bench:leak-probe -- --schemas\` / \`--models\` instead.`,
  );
  return lines;
}

/** The leak target: decided by the snapshot comparison, with the heap slope as the reading it explains. */
function leakTarget(l: Leak): TargetCheck {
  const target = `zero heap growth after ${num(l.runs)} runs`;
  const o = l.objects;
  if (!o) {
    return {
      target,
      measured: `slope ${l.slopeBytesPerRun.toFixed(1)} B/run (${bytes(l.growthBytes)} in all)`,
      met: null,
      note: 'earlier method (heapUsed slope only) cannot decide: rerun the memory scenario',
    };
  }
  const top = o.survivorKinds[0];
  return {
    target,
    measured: `${num(o.survivors.js)} program objects (${bytes(o.survivors.jsBytes)}) allocated in the first ${num(o.windowRuns)} runs still alive ${num(l.runs - o.windowRuns)} runs later; most of one kind: ${top ? `${num(top.count)} ${top.kind}` : 'none'} (${o.maxKindPerRun.toFixed(4)} per run); steadiest object growth ${(o.maxGrowthPerRun ?? 0).toFixed(2)} B/run; heap slope ${l.slopeBytesPerRun.toFixed(1)} ± ${(l.slopeCi95 ?? Number.NaN).toFixed(1)} B/run (95 % CI), V8 code + metadata ${(l.codeSlopeBytesPerRun ?? Number.NaN).toFixed(1)} B/run of it`,
    met: l.quick ? null : o.maxKindPerRun < MAX_SURVIVORS_PER_RUN && (o.maxGrowthPerRun ?? 0) <= MAX_GROWTH_PER_RUN && l.errors === 0 && l.activeAfter === 0,
    note: l.quick
      ? 'quick mode: unsettled readings and few runs cannot decide this'
      : `met = no program-object kind retained by more than ${MAX_SURVIVORS_PER_RUN * 100} % of the runs and no object growing by more than ${MAX_GROWTH_PER_RUN} B/run (heap snapshots), 0 errors, 0 active runs`,
  };
}
