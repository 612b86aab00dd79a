/**
 * 6. CPU profile of the service at saturation (the load of scenario 3):
 * `node --max-semi-space-size=32 --heap-growing-percent=50 --expose-gc --cpu-prof --cpu-prof-dir=bench/results/profiles dist/src/server.js`
 * (the service as `npm start` runs it, with the profiler on),
 * autocannon at 50 connections, then the top self-time functions.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cannon } from '../lib/autocannon.ts';
import { num } from '../lib/format.ts';
import { table } from '../lib/markdown.ts';
import { REPO_ROOT, SERVICE_ENTRY, SERVICE_NODE_FLAGS, startServiceChild, startSimulatorChild, type NodeChild } from '../lib/procs.ts';
import type { Scenario, TargetCheck } from '../lib/scenario.ts';
import { round } from '../lib/stats.ts';
import { ANSWER, runBody } from '../lib/workload.ts';
import { STORE_RUNS } from './s3-throughput.ts';
import { analyze, loadProfile, type FunctionCost } from '../topFunctions.ts';

const CONNECTIONS = 50;

interface ProfileResult {
  replicates: number;
  connections?: number;
  answers?: 'fixed' | 'distinct';
  file: string;
  /** The part of the profile analysed: ms since the process started. */
  window: { fromMs: number; toMs: number };
  loadS: number;
  runsPerS: number;
  durationMs: number;
  busyMs: number;
  gcPct: number;
  owners: Array<{ owner: string; selfPct: number }>;
  top: FunctionCost[];
  ours: FunctionCost[];
}

export interface ProfileScenarioResult {
  connections: number;
  profiles: ProfileResult[];
}

const trim = (f: FunctionCost): FunctionCost => ({ ...f, selfMs: round(f.selfMs, 1), totalMs: round(f.totalMs, 1), selfPct: round(f.selfPct, 2), totalPct: round(f.totalPct, 2) });

export const profileScenario: Scenario<ProfileScenarioResult> = {
  id: 6,
  key: 'profile',
  title: 'CPU profile at saturation',
  async run(ctx) {
    const loadS = ctx.quick ? 1.5 : 10;
    const profiles: ProfileResult[] = [];
    const mixes = [
      // Scenario 3's load: fixed answers, 50 connections.
      { replicates: 1, connections: CONNECTIONS, fixed: true },
      { replicates: 5, connections: CONNECTIONS, fixed: true },
      // One large bundle at a time with distinct answers: where the O(n²) work of a run goes.
      { replicates: 100, connections: 2, fixed: false },
    ];
    const sim = await startSimulatorChild(0);
    try {
      for (const { replicates, connections, fixed } of mixes) {
        const started: NodeChild[] = [];
        const name = `service-${replicates}rep.cpuprofile`;
        const profileDir = path.relative(REPO_ROOT, path.join(ctx.resultsDir, 'profiles'));
        const file = path.join(REPO_ROOT, profileDir, name);
        rmSync(file, { force: true });
        let runsPerS = 0;
        // The profile starts with the process; keep only the measured load (no start-up, warm-up or shutdown).
        const spawnedAt = performance.now();
        let fromMs = 0;
        let toMs = Number.POSITIVE_INFINITY;
        try {
          await sim.reset();
          if (fixed) await sim.configure({ answers: { kind: 'fixed', value: ANSWER } });
          const svc = await startServiceChild(sim.url, { MAX_CONCURRENCY: '100', MAX_RUNS: String(STORE_RUNS) }, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}`, '--cpu-prof-interval=250']);
          started.push(svc);
          const opts = { url: `${svc.origin}/v1/runs`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(runBody(replicates)), connections };
          ctx.log(`${replicates} replicate(s): ${loadS} s at ${connections} connections under --cpu-prof`);
          // As in scenario 3: the warm-up fills the store to its steady state.
          if (replicates < 100) await cannon({ ...opts, amount: ctx.quick ? 150 : STORE_RUNS + 200 });
          else await cannon({ ...opts, duration: 1 });
          fromMs = performance.now() - spawnedAt;
          const res = await cannon({ ...opts, duration: loadS });
          toMs = performance.now() - spawnedAt;
          runsPerS = res['2xx'] / res.duration;
          // SIGTERM → graceful close → exit, which writes the profile.
          await svc.stop(30_000);
        } finally {
          for (const c of started.reverse()) await c.stop();
        }
        if (!existsSync(file)) throw new Error(`no profile written at ${file}`);
        const s = analyze(loadProfile(file), path.relative(REPO_ROOT, file), { fromMs, toMs });
        profiles.push({
          replicates,
          connections,
          answers: fixed ? 'fixed' : 'distinct',
          file: path.relative(REPO_ROOT, file),
          window: { fromMs: round(fromMs, 0), toMs: round(toMs, 0) },
          loadS,
          runsPerS: round(runsPerS, 1),
          durationMs: round(s.durationMs, 0),
          busyMs: round(s.busyMs, 0),
          gcPct: round((s.gcMs / s.busyMs) * 100, 1),
          owners: s.owners.slice(0, 10).map((o) => ({ owner: o.owner, selfPct: round(o.selfPct, 1) })),
          top: s.functions.slice(0, 25).map(trim),
          ours: s.functions.filter((f) => f.ours).sort((a, b) => b.totalMs - a.totalMs).slice(0, 25).map(trim),
        });
        ctx.log(`  ${s.functions[0]?.name} ${s.functions[0]?.location} tops self time; profile → ${path.relative(REPO_ROOT, file)}`);
      }
    } finally {
      await sim.stop();
    }
    return { connections: CONNECTIONS, profiles };
  },
  render(r) {
    const parts: string[] = [
      `\`node ${SERVICE_NODE_FLAGS.join(' ')} --cpu-prof --cpu-prof-dir=bench/results/profiles --cpu-prof-interval=250 ${SERVICE_ENTRY}\` (the service as \`npm start\` runs it; MAX_CONCURRENCY=100, MAX_RUNS=1000 as in scenario 3) under autocannon (0 ms simulator): scenario 3's load with 1 and 5 replicates after the same store-filling warm-up, and one 100-replicate bundle at a time with distinct answers, then \`node bench/topFunctions.ts <profile>\`. Only the samples taken during the measured load are analysed (start-up, warm-up and shutdown are cut with \`--from-ms\`/\`--to-ms\` of topFunctions). Percentages are of busy (non-idle) samples; "total" is inclusive time. Profiles are written to \`bench/results/profiles/\` (git-ignored).`,
    ];
    for (const p of r.profiles) {
      const oursBySelf = [...p.ours].sort((a, b) => b.selfMs - a.selfMs).slice(0, 3);
      parts.push(
        '',
        `**${p.replicates} replicate${p.replicates > 1 ? 's' : ''} per run, ${p.connections ?? r.connections} connections, ${p.answers ?? 'fixed'} answers** (${num(p.runsPerS, p.runsPerS < 10 ? 1 : 0)} runs/s under the profiler, ${p.loadS} s; \`node bench/topFunctions.ts ${p.file} --from-ms=${p.window.fromMs} --to-ms=${p.window.toMs}\`): busy ${(p.busyMs / 1000).toFixed(1)} s of ${(p.durationMs / 1000).toFixed(1)} s, GC ${p.gcPct} % of busy. Self time by owner: ${p.owners.slice(0, 8).map((o) => `${o.owner} ${o.selfPct} %`).join(', ')}. Our top self time: ${oursBySelf.map((f) => `\`${f.name}\` ${f.selfPct.toFixed(1)} % (${f.location})`).join(', ')}.`,
        '',
        p.replicates === 1 ? 'Top 15 functions by self time:' : '<details><summary>Top 15 functions by self time</summary>',
        '',
        table(
          ['#', 'self %', 'total %', 'function', 'file:line'],
          p.top.slice(0, 15).map((f, i) => [i + 1, f.selfPct.toFixed(1), f.totalPct.toFixed(1), `\`${f.name}\``, `\`${f.location}\``]),
          ['r', 'r', 'r', 'l', 'l'],
        ),
        ...(p.replicates === 1 ? [] : ['', '</details>']),
        '',
        `<details><summary>Our code (src/, routes/, tools/, compiled to dist/) by inclusive time, ${p.replicates} replicate${p.replicates > 1 ? 's' : ''}</summary>`,
        '',
        table(
          ['total %', 'self %', 'function', 'file:line'],
          p.ours.slice(0, 15).map((f) => [f.totalPct.toFixed(1), f.selfPct.toFixed(1), `\`${f.name}\``, `\`${f.location}\``]),
          ['r', 'r', 'l', 'l'],
        ),
        '',
        '</details>',
      );
    }
    return parts.join('\n');
  },
  targets(): TargetCheck[] {
    return [];
  },
};
