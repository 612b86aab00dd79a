/**
 * 1. Overhead per replicate: a run of N replicates against the simulator at
 * a fixed 200 ms, minus N direct openai SDK calls in parallel (same bench
 * process, interleaved), divided by N.
 */
import OpenAI from 'openai';
import { ms, signedMs } from '../lib/format.ts';
import { table } from '../lib/markdown.ts';
import { startServiceChild, startSimulatorChild, type NodeChild } from '../lib/procs.ts';
import type { Scenario, TargetCheck } from '../lib/scenario.ts';
import { ANSWER, API_KEY, chatBody, runBody } from '../lib/workload.ts';
import { median, round } from '../lib/stats.ts';

const LATENCY_MS = 200;

interface SizeResult {
  replicates: number;
  reps: number;
  directWallP50: number;
  serviceWallP50: number;
  /** Median over repetitions of (service wall − direct wall), ms. */
  diffP50: number;
  perReplicateMs: number;
  /** Slowest provider call of the run as the gateway timed it (p50 over repetitions). */
  slowestCallP50: number;
  /** Run wall − slowest call: time outside the provider calls (p50). */
  outsideCallsP50: number;
  errors: number;
}

export interface OverheadResult {
  latencyMs: number;
  maxConcurrency: number;
  sizes: SizeResult[];
}

export const overheadScenario: Scenario<OverheadResult> = {
  id: 1,
  key: 'overhead',
  title: 'Overhead per replicate',
  async run(ctx) {
    const sizes = [1, 5, 20, 100];
    const reps = ctx.quick ? 2 : 10;
    const started: NodeChild[] = [];
    try {
      const sim = await startSimulatorChild(LATENCY_MS);
      started.push(sim);
      await sim.configure({ answers: { kind: 'fixed', value: ANSWER } });
      const svc = await startServiceChild(sim.url, { MAX_CONCURRENCY: '100' });
      started.push(svc);
      const direct = new OpenAI({ baseURL: sim.url, apiKey: API_KEY, maxRetries: 0 });
      const viaService = new OpenAI({ baseURL: `${svc.origin}/v1`, apiKey: API_KEY, maxRetries: 0 });
      let errors = 0;
      const directRun = async (n: number) => {
        const t = performance.now();
        await Promise.all(Array.from({ length: n }, () => direct.chat.completions.create(chatBody)));
        return performance.now() - t;
      };
      // Slowest provider call of the last run as the gateway timed it.
      let lastMaxCall = Number.NaN;
      const serviceRun = async (n: number) => {
        const t = performance.now();
        const run = await viaService.post<{ status: string; bundle: { statistics: { succeeded: number }; replicates: { latency_ms: number }[] } | null }>('/runs', { body: runBody(n) });
        const elapsed = performance.now() - t;
        if (run.status !== 'succeeded' || run.bundle?.statistics.succeeded !== n) errors++;
        lastMaxCall = Math.max(...(run.bundle?.replicates.map((x) => x.latency_ms) ?? [Number.NaN]));
        return elapsed;
      };
      ctx.log('warm-up');
      for (const n of sizes) for (let i = 0; i < (ctx.quick ? 1 : 2); i++) {
        await directRun(n);
        await serviceRun(n);
      }
      errors = 0;
      const out: SizeResult[] = [];
      for (const n of sizes) {
        const d: number[] = [];
        const s: number[] = [];
        const diffs: number[] = [];
        const maxCalls: number[] = [];
        const outside: number[] = [];
        const before = errors;
        for (let r = 0; r < reps; r++) {
          // Alternate which goes first so neither always runs on a just-warmed pool.
          let dt: number;
          let st: number;
          if (r % 2 === 0) {
            dt = await directRun(n);
            st = await serviceRun(n);
          } else {
            st = await serviceRun(n);
            dt = await directRun(n);
          }
          if (process.env.BENCH_DEBUG) ctx.log(`  rep ${r}: direct ${dt.toFixed(1)} service ${st.toFixed(1)}`);
          d.push(dt);
          s.push(st);
          maxCalls.push(lastMaxCall);
          outside.push(st - lastMaxCall);
          diffs.push(st - dt);
        }
        const diff = median(diffs);
        out.push({
          replicates: n,
          reps,
          directWallP50: round(median(d), 3),
          serviceWallP50: round(median(s), 3),
          diffP50: round(diff, 3),
          perReplicateMs: round(diff / n, 4),
          slowestCallP50: round(median(maxCalls), 3),
          outsideCallsP50: round(median(outside), 3),
          errors: errors - before,
        });
        ctx.log(`${n} replicates: direct ${median(d).toFixed(2)} ms, service ${median(s).toFixed(2)} ms → ${(diff / n).toFixed(3)} ms/replicate`);
      }
      return { latencyMs: LATENCY_MS, maxConcurrency: 100, sizes: out };
    } finally {
      for (const c of started.reverse()) await c.stop();
    }
  },
  render(r) {
    const target = (n: number) => (n === 20 ? '< 1 ms' : n === 100 ? '< 0.2 ms' : '');
    return [
      `Simulator at a fixed ${r.latencyMs} ms; service with MAX_CONCURRENCY=${r.maxConcurrency} (all replicates in flight at once). Direct = the same number of openai SDK calls in parallel from the bench process. Overhead/replicate = median over ${r.sizes[0]?.reps ?? 0} interleaved repetitions of (run wall − direct wall) ÷ replicates. "Slowest call in service" is the longest replicate \`latency_ms\` the gateway recorded (retry + breaker + Agents SDK + fetch, including waiting for the event loop while other replicates are processed); "run − slowest call" is what the run adds around its calls (HTTP, validation, orchestration, bundle, serialisation).`,
      '',
      table(
        ['replicates', 'direct wall p50', 'run wall p50', 'run − direct (p50)', 'overhead / replicate', 'target', 'slowest call in service', 'run − slowest call', 'errors'],
        r.sizes.map((s) => [
          s.replicates,
          ms(s.directWallP50),
          ms(s.serviceWallP50),
          signedMs(s.diffP50),
          ms(s.perReplicateMs, 3),
          target(s.replicates),
          ms(s.slowestCallP50),
          ms(s.outsideCallsP50),
          s.errors,
        ]),
        ['r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r'],
      ),
    ].join('\n');
  },
  targets(r): TargetCheck[] {
    const checks: TargetCheck[] = [];
    const at = (n: number) => r.sizes.find((s) => s.replicates === n);
    const s20 = at(20);
    const s100 = at(100);
    if (s20) checks.push({ target: 'overhead < 1 ms/replicate at 20 replicates', measured: ms(s20.perReplicateMs, 3), met: s20.perReplicateMs < 1 });
    if (s100) {
      checks.push({ target: 'overhead < 0.2 ms/replicate at 100 replicates', measured: ms(s100.perReplicateMs, 3), met: s100.perReplicateMs < 0.2 });
      checks.push({ target: '100 replicates in one run without errors', measured: `${s100.errors} failed runs of ${s100.reps}`, met: s100.errors === 0 });
    }
    return checks;
  },
};
