/**
 * Benchmark driver: `npm run bench [-- --quick] [-- --only=0,2]`.
 *
 * Runs the selected scenarios one after another (each starts and stops its
 * own simulator/service processes), writes bench/results/<id>-<key>.json,
 * then regenerates the marked sections of BENCHMARKS.md from every result
 * file present (so `--only` refreshes some sections and keeps the others).
 * `--quick` writes to bench/results/quick/ and leaves BENCHMARKS.md alone.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bytes, verdict } from './lib/format.ts';
import { commandLine, cpuSnapshot, foreignCores, machineInfo } from './lib/machine.ts';
import { replaceSection, table } from './lib/markdown.ts';
import { REPO_ROOT } from './lib/procs.ts';
import type { RunMeta, Scenario, StoredResult, TargetCheck } from './lib/scenario.ts';
import { latencyScenario } from './scenarios/s0-latency.ts';
import { overheadScenario } from './scenarios/s1-overhead.ts';
import { streamScenario } from './scenarios/s2-stream.ts';
import { throughputScenario } from './scenarios/s3-throughput.ts';
import { memoryScenario } from './scenarios/s4-memory.ts';
import { scalingScenario } from './scenarios/s5-scaling.ts';
import { profileScenario } from './scenarios/s6-profile.ts';
import { peersScenario } from './scenarios/s7-peers.ts';

const SCENARIOS: Scenario[] = [latencyScenario, overheadScenario, streamScenario, throughputScenario, memoryScenario, scalingScenario, profileScenario, peersScenario];
const FULL_RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
// Quick (smoke) runs never replace the published figures: their results go to a directory of their own.
const QUICK_RESULTS_DIR = path.join(FULL_RESULTS_DIR, 'quick');
let RESULTS_DIR = FULL_RESULTS_DIR;
const DOC = path.join(REPO_ROOT, 'BENCHMARKS.md');

function parseArgs(argv: string[]): { quick: boolean; only: Set<number> | null; noDoc: boolean; docOnly: boolean } {
  let quick = false;
  let noDoc = false;
  let docOnly = false;
  let only: Set<number> | null = null;
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--no-doc') noDoc = true;
    else if (arg === '--doc-only') docOnly = true;
    else if (arg.startsWith('--only=')) {
      only = new Set();
      for (const part of arg.slice(7).split(',')) {
        const s = SCENARIOS.find((x) => String(x.id) === part.trim() || x.key === part.trim());
        if (!s) throw new Error(`unknown scenario ${JSON.stringify(part)}; known: ${SCENARIOS.map((x) => `${x.id}=${x.key}`).join(', ')}`);
        only.add(s.id);
      }
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`usage: npm run bench [-- --quick] [-- --only=0,2|latency,...] [-- --no-doc] [-- --doc-only]\nscenarios: ${SCENARIOS.map((x) => `${x.id}=${x.key}`).join(', ')}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  return { quick, only, noDoc, docOnly };
}

function resultFile(s: Scenario): string {
  return path.join(RESULTS_DIR, `${s.id}-${s.key}.json`);
}

function loadStored(s: Scenario): StoredResult | null {
  try {
    return JSON.parse(readFileSync(resultFile(s), 'utf8')) as StoredResult;
  } catch {
    return null;
  }
}

function metaLine(meta: RunMeta): string {
  const load = meta.foreignCores === undefined ? '' : `; other processes used ${meta.foreignCores} cores on average meanwhile${meta.foreignCores > 0.1 ? ' (⚠️ figures skewed by other work)' : ''}`;
  return `_Measured ${meta.date} with \`${meta.command}\`${meta.quick ? ' (quick mode: smaller samples, indicative only)' : ''}; took ${meta.durationS.toFixed(0)} s${load}._`;
}

/** Regenerates the marked sections of BENCHMARKS.md from the full-run results. */
function renderDoc(): void {
  let doc: string;
  try {
    doc = readFileSync(DOC, 'utf8');
  } catch {
    doc = '# Benchmarks\n';
  }
  const stored = SCENARIOS.map((s) => ({ s, r: loadStored(s) }));
  const latest = stored
    .map((x) => x.r)
    .filter((r): r is StoredResult => r !== null)
    .sort((a, b) => b.meta.date.localeCompare(a.meta.date))[0];
  if (latest) {
    const m = latest.meta.machine;
    doc = replaceSection(
      doc,
      'environment',
      table(
        ['', ''],
        [
          ['machine', `${m.nproc} cores (nproc), ${m.cpuModel}, ${bytes(m.memoryBytes)} RAM, ${m.platform}, kernel ${m.kernel}`],
          ['Node', m.node],
          ['latest run', `${latest.meta.date}`],
          ['command', `\`${latest.meta.command}\``],
        ],
      ),
    );
  }
  const checks: Array<TargetCheck & { scenario: string }> = [];
  for (const { s, r } of stored) {
    if (!r) continue;
    doc = replaceSection(doc, s.key, `${metaLine(r.meta)}\n\n${s.render(r.result, r.meta)}`);
    for (const t of s.targets(r.result)) checks.push({ ...t, scenario: `${s.id}` });
  }
  doc = replaceSection(
    doc,
    'targets',
    table(
      ['#', 'target', 'measured', 'verdict'],
      checks.map((c) => [c.scenario, c.target, c.measured + (c.note ? ` — ${c.note}` : ''), verdict(c.met)]),
    ),
  );
  writeFileSync(DOC, doc);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.docOnly) {
    renderDoc();
    process.stdout.write(`bench: BENCHMARKS.md regenerated from ${path.relative(REPO_ROOT, FULL_RESULTS_DIR)}/*.json\n`);
    return;
  }
  if (args.quick) RESULTS_DIR = QUICK_RESULTS_DIR;
  mkdirSync(path.join(RESULTS_DIR, 'profiles'), { recursive: true });
  if (args.quick) writeFileSync(path.join(RESULTS_DIR, '.gitignore'), '# smoke-run output of `npm run bench -- --quick`\n*\n');
  const machine = machineInfo();
  const command = commandLine();
  const t0 = performance.now();
  let failed = 0;
  process.stdout.write(`bench: ${machine.nproc} cores, ${machine.cpuModel}, Node ${machine.node}${args.quick ? ', quick mode' : ''}\n`);
  for (const s of SCENARIOS) {
    if (args.only && !args.only.has(s.id)) continue;
    const started = performance.now();
    const log = (msg: string) => process.stdout.write(`[${s.id} ${s.key} +${((performance.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
    // Other work on the machine skews every figure: CPU used by processes outside the bench is kept with the results.
    const cpu0 = cpuSnapshot();
    log(`start: ${s.title}`);
    try {
      const result = await s.run({ quick: args.quick, log, resultsDir: RESULTS_DIR });
      const meta: RunMeta = {
        date: new Date().toISOString(),
        command,
        quick: args.quick,
        durationS: (performance.now() - started) / 1000,
        machine,
        foreignCores: foreignCores(cpu0, cpuSnapshot()),
      };
      if ((meta.foreignCores ?? 0) > 0.1) log(`warning: other processes used ${meta.foreignCores} cores on average during this scenario; its figures are skewed`);
      const stored: StoredResult = { scenario: { id: s.id, key: s.key, title: s.title }, meta, result };
      writeFileSync(resultFile(s), `${JSON.stringify(stored, null, 2)}\n`);
      for (const t of s.targets(result)) log(`${verdict(t.met)}: ${t.target} — ${t.measured}`);
      log(`done → ${path.relative(REPO_ROOT, resultFile(s))}`);
    } catch (error) {
      failed++;
      log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
  if (args.quick) {
    process.stdout.write(`bench: quick mode — results in ${path.relative(REPO_ROOT, RESULTS_DIR)}/, BENCHMARKS.md left alone\n`);
  } else if (!args.noDoc) {
    renderDoc();
    process.stdout.write(`bench: BENCHMARKS.md updated\n`);
  }
  process.stdout.write(`bench: finished in ${((performance.now() - t0) / 1000).toFixed(0)} s${failed ? `, ${failed} scenario(s) failed` : ''}\n`);
  process.exitCode = failed ? 1 : 0;
}

await main();
