/**
 * 2. Stream event latency: from an event's `ts` (stamped by the
 * orchestrator when it emits) to its receipt by an SSE client in another
 * process, with 1, 100 and 1,000 concurrent streaming clients.
 *
 * Each client streams its own run (`POST /v1/runs`, `stream: true`, 5
 * replicates) and starts another when it ends. The simulated model latency
 * grows with the number of clients so the aggregate event rate stays well
 * under the service's capacity (scenario 3): what changes between levels is
 * the number of concurrent streams, not the load.
 */
import { execFileSync } from 'node:child_process';
import { ms, num } from '../lib/format.ts';
import { table } from '../lib/markdown.ts';
import { scrape, sumMetric } from '../lib/metrics.ts';
import { processCpuMs, spawnNode, startServiceChild, startSimulatorChild, type NodeChild } from '../lib/procs.ts';
import type { Scenario, ScenarioContext, TargetCheck } from '../lib/scenario.ts';
import { round, sleep, type Summary } from '../lib/stats.ts';
import { ANSWER, runBody } from '../lib/workload.ts';

interface Level {
  clients: number;
  latencyMs: { min: number; max: number };
  rampMs: number;
  windowMs: number;
}

interface ClientReport {
  clients: number;
  runsStarted: number;
  runsCompleted: number;
  errors: number;
  errorSamples: string[];
  events: number;
  windowMs: number;
  clockDriftMs: number;
  clientLoopDelayMs: { p50: number; p99: number; max: number };
  latency: Summary;
  byType: Record<string, Summary>;
}

export interface LevelResult extends Level {
  report: ClientReport;
  eventsPerS: number;
  serviceCpuPct: number;
  clientCpuPct: number;
  serviceLoopLagP99Ms: number;
  /** Main-thread GC time during the window, % of wall time (prom-client's nodejs_gc_duration_seconds). */
  serviceGcPct: number;
  /** GC pauses of 100 ms or more during the window. */
  serviceLongGcs: number;
  /** How the client process was scheduled (see scheduleClient). */
  clientScheduling: string;
  /** The same clients against a bare node:http SSE server with the same event pattern (bench/workers/bareSse.ts). */
  floor?: ClientReport;
  /** At 100 clients: service and floor again with the client process at normal priority. */
  normal?: { report: ClientReport; floor: ClientReport };
}

export interface StreamResult {
  replicates: number;
  levels: LevelResult[];
}

const REPLICATES = 5;

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(0)} %`);

function levels(quick: boolean): Level[] {
  if (quick) {
    return [
      { clients: 1, latencyMs: { min: 50, max: 150 }, rampMs: 300, windowMs: 1000 },
      { clients: 100, latencyMs: { min: 500, max: 1500 }, rampMs: 500, windowMs: 1500 },
      { clients: 1000, latencyMs: { min: 1000, max: 3000 }, rampMs: 1500, windowMs: 2000 },
    ];
  }
  return [
    { clients: 1, latencyMs: { min: 50, max: 150 }, rampMs: 1000, windowMs: 10_000 },
    { clients: 100, latencyMs: { min: 1000, max: 3000 }, rampMs: 3000, windowMs: 12_000 },
    { clients: 1000, latencyMs: { min: 10_000, max: 20_000 }, rampMs: 15_000, windowMs: 15_000 },
  ];
}

type Scheduling = 'fifo' | 'normal';

/** Real-time priority of the SSE client process (the instrument), when the OS allows it. */
const CLIENT_RT_PRIORITY = 10;

/**
 * The SSE clients are the measuring instrument. On two shared cores a woken
 * client otherwise waits for the scheduler to preempt the service or the
 * simulator, and that wait (up to a few ms) would be counted as event
 * latency; under SCHED_FIFO it runs as soon as its data arrives. Needs
 * privileges (root here); reported either way.
 */
function scheduleClient(pid: number, scheduling: Scheduling): string {
  if (scheduling === 'normal') return 'normal';
  try {
    execFileSync('chrt', ['-f', '-p', String(CLIENT_RT_PRIORITY), String(pid)], { stdio: 'ignore' });
    return `SCHED_FIFO ${CLIENT_RT_PRIORITY}`;
  } catch {
    return 'normal (chrt refused)';
  }
}

function clientsConfig(origin: string, level: Level): string {
  return JSON.stringify({ origin, clients: level.clients, rampMs: level.rampMs, windowMs: level.windowMs, durationMs: level.windowMs, body: runBody(REPLICATES) });
}

/** One level against the service: its clients' report plus the service's CPU, loop lag and GC over the window. */
async function measureService(ctx: ScenarioContext, simulatorUrl: string, level: Level, scheduling: Scheduling): Promise<LevelResult> {
  const started: NodeChild[] = [];
  try {
    // Global provider concurrency raised so 1,000 runs × 5 replicates are not throttled (the default is 512);
    // no shutdown grace: runs still going when the window closes are of no interest.
    const svc = await startServiceChild(simulatorUrl, { MAX_GLOBAL_CONCURRENCY: '10000', SHUTDOWN_GRACE_MS: '0' });
    started.push(svc);
    const clients = spawnNode('bench/workers/sseClients.ts', { env: { SSE_CONFIG: clientsConfig(svc.origin, level) } });
    started.push(clients);
    const clientScheduling = scheduleClient(clients.pid, scheduling);
    await clients.waitForLine((l) => l.startsWith('{"ready"'));
    // At the start of the window: reset the service's loop-lag histogram (it resets on every scrape) and note CPU.
    await sleep(level.rampMs);
    // CPU is read at the window's edges; the scrapes are not awaited there because a loaded
    // service answers them late, which would shift the window.
    const svc0 = processCpuMs(svc.pid);
    const cli0 = processCpuMs(clients.pid);
    const t0 = performance.now();
    const m0Pending = scrape(svc.origin);
    await sleep(level.windowMs);
    const wall = performance.now() - t0;
    const svcCpu = processCpuMs(svc.pid) - svc0;
    const cliCpu = processCpuMs(clients.pid) - cli0;
    const m0 = await m0Pending;
    const m1 = await scrape(svc.origin);
    const lag = sumMetric(m1, 'nodejs_eventloop_lag_p99_seconds') * 1000;
    const delta = (name: string, filter?: (labels: string) => boolean) => sumMetric(m1, name, filter) - sumMetric(m0, name, filter);
    const gcMs = delta('nodejs_gc_duration_seconds_sum') * 1000;
    const longGcs = delta('nodejs_gc_duration_seconds_count') - delta('nodejs_gc_duration_seconds_bucket', (l) => l.includes('le="0.1"'));
    const report = JSON.parse(await clients.waitForLine((l) => l.startsWith('{"clients"'), 60_000)) as ClientReport;
    const result: LevelResult = {
      ...level,
      clientScheduling,
      report,
      eventsPerS: round(report.events / (level.windowMs / 1000), 1),
      serviceCpuPct: round((svcCpu / wall) * 100, 1),
      clientCpuPct: round((cliCpu / wall) * 100, 1),
      serviceLoopLagP99Ms: round(lag, 2),
      serviceGcPct: round((gcMs / wall) * 100, 1),
      serviceLongGcs: longGcs,
    };
    ctx.log(
      `  service, clients ${clientScheduling}: ${report.events} events (${result.eventsPerS}/s), ${report.runsCompleted} runs, ${report.errors} errors: p50 ${report.latency.p50.toFixed(3)} ms, p99 ${report.latency.p99.toFixed(3)} ms; service CPU ${result.serviceCpuPct}%, client CPU ${result.clientCpuPct}%, service loop lag p99 ${result.serviceLoopLagP99Ms} ms, GC ${result.serviceGcPct}% (${result.serviceLongGcs} pauses ≥ 100 ms)`,
    );
    return result;
  } finally {
    for (const c of started.reverse()) await c.stop();
  }
}

/** The floor: the same clients, event pattern and timing, from a bare node:http SSE server (bench/workers/bareSse.ts). */
async function measureFloor(ctx: ScenarioContext, level: Level, scheduling: Scheduling): Promise<ClientReport> {
  const started: NodeChild[] = [];
  try {
    const bare = spawnNode('bench/workers/bareSse.ts', {
      env: { BARE_SSE_LATENCY: `${level.latencyMs.min}-${level.latencyMs.max}`, BARE_SSE_REPLICATES: String(REPLICATES) },
    });
    started.push(bare);
    const origin = (JSON.parse(await bare.waitForLine((l) => l.includes('"url"'))) as { url: string }).url;
    const clients = spawnNode('bench/workers/sseClients.ts', { env: { SSE_CONFIG: clientsConfig(origin, level) } });
    started.push(clients);
    const clientScheduling = scheduleClient(clients.pid, scheduling);
    const report = JSON.parse(await clients.waitForLine((l) => l.startsWith('{"clients"'), level.rampMs + level.windowMs + 60_000)) as ClientReport;
    ctx.log(`  floor (bare SSE server), clients ${clientScheduling}: p50 ${report.latency.p50.toFixed(3)} ms, p99 ${report.latency.p99.toFixed(3)} ms, ${report.events} events, ${report.errors} errors`);
    return report;
  } finally {
    for (const c of started.reverse()) await c.stop();
  }
}

export const streamScenario: Scenario<StreamResult> = {
  id: 2,
  key: 'stream',
  title: 'Stream event latency',
  async run(ctx) {
    const out: LevelResult[] = [];
    const sim = await startSimulatorChild(0);
    try {
      for (const level of levels(ctx.quick)) {
        await sim.reset();
        await sim.configure({ answers: { kind: 'fixed', value: ANSWER }, latencyMs: level.latencyMs });
        ctx.log(`${level.clients} client(s): latency ${level.latencyMs.min}–${level.latencyMs.max} ms, ramp ${level.rampMs} ms, window ${level.windowMs} ms`);
        const result = await measureService(ctx, sim.url, level, 'fifo');
        result.floor = await measureFloor(ctx, level, 'fifo');
        // At 100 clients, the same again with the clients at normal priority: what the OS scheduler adds.
        if (level.clients === 100) {
          const normal = await measureService(ctx, sim.url, level, 'normal');
          result.normal = { report: normal.report, floor: await measureFloor(ctx, level, 'normal') };
        }
        out.push(result);
      }
    } finally {
      await sim.stop();
    }
    return { replicates: REPLICATES, levels: out };
  },
  render(r) {
    const rows = r.levels.map((l) => {
      const s = l.report.latency;
      return [
        num(l.clients),
        `${l.latencyMs.min / 1000}–${l.latencyMs.max / 1000} s`,
        `${num(l.report.events)} (${num(l.eventsPerS)}/s)`,
        ms(s.p50, 3),
        ms(s.p99, 3),
        ms(s.max, 1),
        l.floor ? `${ms(l.floor.latency.p50, 3)} / ${ms(l.floor.latency.p99, 3)}` : 'n/a',
        `${pct(l.serviceCpuPct)} / ${pct(l.clientCpuPct)}`,
        ms(Math.max(0, l.serviceLoopLagP99Ms - 10), 1),
        `${(l.serviceGcPct ?? 0).toFixed(1)} % / ${l.serviceLongGcs ?? 0}`,
        ms(Math.max(0, l.report.clientLoopDelayMs.p99 - 1), 1),
        l.report.errors,
      ];
    });
    const normalRows = r.levels.flatMap((l) =>
      l.normal
        ? [
            [num(l.clients), l.clientScheduling, ms(l.report.latency.p50, 3), ms(l.report.latency.p99, 3), l.floor ? `${ms(l.floor.latency.p50, 3)} / ${ms(l.floor.latency.p99, 3)}` : 'n/a'],
            [num(l.clients), 'normal', ms(l.normal.report.latency.p50, 3), ms(l.normal.report.latency.p99, 3), `${ms(l.normal.floor.latency.p50, 3)} / ${ms(l.normal.floor.latency.p99, 3)}`],
          ]
        : [],
    );
    const scheduling = [...new Set(r.levels.map((l) => l.clientScheduling))].join(', ');
    const typeRows = r.levels.flatMap((l) =>
      Object.entries(l.report.byType).map(([type, s]) => [num(l.clients), `\`${type}\``, num(s.n), ms(s.p50, 2), ms(s.p99, 2)]),
    );
    return [
      `Each client (all in one separate process) streams its own run (\`stream: true\`, tool \`bundle\`, ${r.replicates} replicates) and starts another when it ends. Model latency is drawn uniformly from the range shown, growing with the number of clients so the event rate stays well below the saturation of scenario 3; MAX_GLOBAL_CONCURRENCY=10000 so no provider call is throttled. Only events received inside the measurement window count.`,
      '',
      `**Clocks.** The service stamps \`ts\` in microseconds on a clock mapped onto the wall clock at an instant \`Date.now()\` ticks over (src/lib/clock.ts); receipt is taken the same way in the client process (calibrated on a tick at the start and end of each level and interpolated; the two calibrations differed by up to ${Math.max(...r.levels.map((l) => Math.abs(l.report.clockDriftMs))).toFixed(3)} ms, which bounds the clock-mapping error). Latency = receipt − \`ts\`: from the orchestrator's emit, through the store's fan-out and the socket, to the client's parser.`,
      '',
      `**The instrument.** The client process runs under ${scheduling} (\`chrt\`, when the OS allows it): on two cores shared with the service and the simulator, a client woken by a frame otherwise waits for the scheduler to preempt one of them, and that wait — up to a few ms, the same for a bare server — would be counted as event latency. The floor column is a bare node:http SSE server (\`bench/workers/bareSse.ts\`) sending the same event pattern on the same timing to the same clients. The second table repeats 100 clients with the client process at normal priority.`,
      '',
      table(
        ['clients', 'model latency', 'events in window', 'p50', 'p99', 'max', 'floor p50 / p99 (bare SSE server)', 'CPU service / clients', 'service loop stall p99', 'service GC time / pauses ≥ 100 ms', 'client loop stall p99', 'errors'],
        rows,
        ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      'Loop stall = event-loop delay beyond the sampling interval: the service\'s from its own `/metrics` (`nodejs_eventloop_lag_p99_seconds` − the 10 ms prom-client interval, over the window), the client process\'s from `monitorEventLoopDelay` (1 ms interval). CPU = % of one core during the window; GC from the service\'s `nodejs_gc_duration_seconds`. Note that `ts` is stamped when the orchestrator emits, so time a finished provider call spends waiting for a busy event loop before its event is emitted (e.g. behind a GC pause) is not in these figures; the loop-stall and GC columns show that part. A streamed \`POST\` follows its run before launching it, and every live event is written to the socket from inside the emit (no queue in between).',
      '',
      table(['clients', 'client process', 'p50', 'p99', 'floor p50 / p99'], normalRows, ['r', 'l', 'r', 'r', 'r']),
      '',
      '<details><summary>By event type</summary>',
      '',
      table(['clients', 'event', 'n', 'p50', 'p99'], typeRows, ['r', 'l', 'r', 'r', 'r']),
      '',
      '</details>',
    ].join('\n');
  },
  targets(r): TargetCheck[] {
    const l100 = r.levels.find((l) => l.clients === 100);
    if (!l100) return [];
    const p99 = l100.report.latency.p99;
    const floor = l100.floor ? `; bare SSE server p99 ${l100.floor.latency.p99.toFixed(3)} ms` : '';
    const normal = l100.normal
      ? `; with the client process at normal priority p99 ${l100.normal.report.latency.p99.toFixed(3)} ms (bare server ${l100.normal.floor.latency.p99.toFixed(3)} ms)`
      : '';
    return [
      {
        target: 'event latency p99 < 1 ms with 100 clients',
        measured: `p99 ${p99.toFixed(3)} ms, p50 ${l100.report.latency.p50.toFixed(3)} ms, client process ${l100.clientScheduling}${floor}${normal}`,
        met: p99 < 1,
      },
    ];
  },
};
