/**
 * 3. Throughput at saturation: autocannon against `POST /v1/runs` (1 and 5
 * replicates) with a zero-latency simulator, at increasing connection
 * counts; the knee is where more connections stop buying throughput and
 * only add latency.
 */
import { cannon } from '../lib/autocannon.ts';
import { ms, num } from '../lib/format.ts';
import { table } from '../lib/markdown.ts';
import { runCounts, scrape } from '../lib/metrics.ts';
import { processCpuMs, startServiceChild, startSimulatorChild, type NodeChild } from '../lib/procs.ts';
import type { Scenario, TargetCheck } from '../lib/scenario.ts';
import { round } from '../lib/stats.ts';
import { ANSWER, runBody } from '../lib/workload.ts';

export interface LevelResult {
  connections: number;
  runsPerS: number;
  latencyP50: number;
  latencyP90: number;
  latencyP99: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  failedRuns: number;
  /** CPU used during the level, % of one core. */
  serviceCpuPct: number;
  simulatorCpuPct: number;
  loadGenCpuPct: number;
  serviceCpuMsPerRun: number;
}

export interface MixResult {
  replicates: number;
  levels: LevelResult[];
  maxRunsPerS: number;
  knee: { connections: number; runsPerS: number; latencyP50: number } | null;
}

export interface ThroughputResult {
  durationS: number;
  storeRuns?: number;
  mixes: MixResult[];
}

export const CONNECTIONS_FULL = [1, 10, 50, 100, 200];

/**
 * MAX_RUNS of the service under load. Finished runs stay in the store until
 * MAX_RUNS or RUN_TTL_MS evicts them, and the retained heap drives GC cost,
 * so throughput drifts down until the store is full. With 1,000 the warm-up
 * fills it, every level runs at the same steady state, and the run stays
 * short; the default (10,000, TTL 1 h) holds ~10× more (scenario 4 gives the
 * size of a finished run).
 */
export const STORE_RUNS = 1000;
export const CONNECTIONS_QUICK = [1, 50];

/**
 * Smallest connection count reaching 80 % of the best throughput: past it,
 * throughput only moves within this VM's level-to-level noise (±20 %) while
 * latency grows with the connection count (Little's law).
 */
function knee(levels: LevelResult[]): MixResult['knee'] {
  const best = Math.max(...levels.map((l) => l.runsPerS));
  const at = levels.find((l) => l.runsPerS >= 0.8 * best);
  return at ? { connections: at.connections, runsPerS: at.runsPerS, latencyP50: at.latencyP50 } : null;
}

export const throughputScenario: Scenario<ThroughputResult> = {
  id: 3,
  key: 'throughput',
  title: 'Throughput at saturation',
  async run(ctx) {
    const durationS = ctx.quick ? 1 : 6;
    const connections = ctx.quick ? CONNECTIONS_QUICK : CONNECTIONS_FULL;
    const started: NodeChild[] = [];
    try {
      const sim = await startSimulatorChild(0);
      started.push(sim);
      await sim.configure({ answers: { kind: 'fixed', value: ANSWER } });
      const mixes: MixResult[] = [];
      for (const replicates of [1, 5]) {
        // A fresh service per mix, with a store that the warm-up fills to its steady state (see STORE_RUNS).
        const svc = await startServiceChild(sim.url, { MAX_RUNS: String(STORE_RUNS) });
        started.push(svc);
        const url = `${svc.origin}/v1/runs`;
        const body = JSON.stringify(runBody(replicates));
        const opts = { url, method: 'POST', headers: { 'content-type': 'application/json' }, body };
        ctx.log(`${replicates} replicate(s): warm-up`);
        await cannon({ ...opts, connections: 50, amount: ctx.quick ? 150 : STORE_RUNS + 200 });
        const levels: LevelResult[] = [];
        for (const c of connections) {
          const before = runCounts(await scrape(svc.origin));
          const svc0 = processCpuMs(svc.pid);
          const sim0 = processCpuMs(sim.pid);
          const me0 = process.cpuUsage();
          const t0 = performance.now();
          const res = await cannon({ ...opts, connections: c, duration: durationS });
          const wallMs = performance.now() - t0;
          const me = process.cpuUsage(me0);
          const svcMs = processCpuMs(svc.pid) - svc0;
          const simMs = processCpuMs(sim.pid) - sim0;
          const after = runCounts(await scrape(svc.origin));
          const ok = res['2xx'];
          const level: LevelResult = {
            connections: c,
            runsPerS: round(ok / (wallMs / 1000), 1),
            latencyP50: res.latency.p50,
            latencyP90: res.latency.p90,
            latencyP99: res.latency.p99,
            errors: res.errors,
            non2xx: res.non2xx,
            timeouts: res.timeouts,
            failedRuns: after.other - before.other,
            serviceCpuPct: round((svcMs / wallMs) * 100, 1),
            simulatorCpuPct: round((simMs / wallMs) * 100, 1),
            loadGenCpuPct: round(((me.user + me.system) / 1000 / wallMs) * 100, 1),
            serviceCpuMsPerRun: round(svcMs / Math.max(1, after.succeeded - before.succeeded), 3),
          };
          levels.push(level);
          ctx.log(`  c=${c}: ${level.runsPerS} runs/s, p50 ${level.latencyP50} ms, p99 ${level.latencyP99} ms, service CPU ${level.serviceCpuPct}% (${level.serviceCpuMsPerRun} ms/run), errors ${level.errors + level.non2xx + level.failedRuns}`);
        }
        mixes.push({ replicates, levels, maxRunsPerS: Math.max(...levels.map((l) => l.runsPerS)), knee: knee(levels) });
        await svc.stop();
      }
      return { durationS, storeRuns: STORE_RUNS, mixes };
    } finally {
      for (const c of started.reverse()) await c.stop();
    }
  },
  render(r) {
    const parts = [
      `autocannon (in the bench process) → \`POST /v1/runs\` (tool \`bundle\`), ${r.durationS} s per level; simulator at 0 ms in its own process. A fresh service per mix with MAX_RUNS=${r.storeRuns ?? 'default'}, and a warm-up of ${r.storeRuns ? r.storeRuns + 200 : 'some'} runs that fills the store, so every level runs at the store's steady state (finished runs are retained until MAX_RUNS/RUN_TTL_MS evict them, and the retained heap drives GC cost; the default MAX_RUNS=10,000 holds ~10× more). Throughput counts 2xx answers. CPU columns: % of one core used by each process during the level (the machine has the cores listed above, shared by all three processes). Knee = smallest connection count reaching 80 % of the best throughput: past it, throughput only moves within the level-to-level noise of this VM (±20 %, also between repeated runs) while latency grows with the connection count.`,
    ];
    for (const mix of r.mixes) {
      const m = { ...mix, knee: knee(mix.levels) };
      parts.push(
        '',
        `**${m.replicates} replicate${m.replicates > 1 ? 's' : ''} per run** — max ${num(m.maxRunsPerS)} runs/s (${num(m.maxRunsPerS * m.replicates)} model calls/s); knee at ${m.knee ? `${m.knee.connections} connections (${num(m.knee.runsPerS)} runs/s, p50 ${ms(m.knee.latencyP50, 0)})` : 'n/a'}.`,
        '',
        table(
          ['connections', 'runs/s', 'p50', 'p90', 'p99', 'service CPU', 'service CPU/run', 'simulator CPU', 'autocannon CPU', 'errors'],
          m.levels.map((l) => [
            l.connections,
            num(l.runsPerS),
            ms(l.latencyP50, 0),
            ms(l.latencyP90, 0),
            ms(l.latencyP99, 0),
            `${l.serviceCpuPct.toFixed(0)} %`,
            ms(l.serviceCpuMsPerRun, 2),
            `${l.simulatorCpuPct.toFixed(0)} %`,
            `${l.loadGenCpuPct.toFixed(0)} %`,
            l.errors + l.non2xx + l.timeouts + l.failedRuns,
          ]),
          ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
        ),
      );
    }
    return parts.join('\n');
  },
  targets(r): TargetCheck[] {
    const errors = r.mixes.flatMap((m) => m.levels).reduce((s, l) => s + l.errors + l.non2xx + l.timeouts + l.failedRuns, 0);
    return [{ target: 'no errors at saturation (up to the largest connection count)', measured: `${errors} errors`, met: errors === 0 }];
  },
};

