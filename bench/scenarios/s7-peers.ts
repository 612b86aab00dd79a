/**
 * 7. Side by side with a peer gateway: Portkey's open-source gateway
 * (`@portkey-ai/gateway`, TypeScript on Node, like us) and a bare node:http
 * pass-through (the floor), against one simulator process, in the same
 * interleaved rounds as a one-replicate run of the service. Four figures:
 * added latency over a direct call, CPU per request at a fixed load,
 * requests/s at saturation, and RSS (idle and loaded).
 */
import OpenAI from 'openai';
import { cannon } from '../lib/autocannon.ts';
import { bytes, ms, num, signedMs } from '../lib/format.ts';
import { closeIdleConnections } from '../lib/load.ts';
import { table } from '../lib/markdown.ts';
import { freePort, processCpuMs, SERVICE_ENTRY, SERVICE_NODE_FLAGS, spawnNode, startProxyChild, startServiceChild, startSimulatorChild, waitHttpOk, type NodeChild } from '../lib/procs.ts';
import type { Scenario, TargetCheck } from '../lib/scenario.ts';
import { median, round, sleep, summarize } from '../lib/stats.ts';
import { ANSWER, API_KEY, chatBody, runBody } from '../lib/workload.ts';
import { readFileSync } from 'node:fs';

/** The peers measured against a direct call. */
type Peer = 'proxy' | 'portkey' | 'service';
const PEERS: Peer[] = ['proxy', 'portkey', 'service'];
type Path = 'direct' | Peer;
const PATHS: Path[] = ['direct', ...PEERS];

const LABEL: Record<Path, string> = {
  direct: 'direct (openai SDK → simulator)',
  proxy: 'bare node:http pass-through',
  portkey: 'Portkey gateway 1.15.2',
  service: 'this service (`POST /v1/runs`, 1 replicate)',
};

/** Portkey's entry script, started as its own process and pinned to loopback by a preload. */
const PORTKEY_SCRIPT = 'node_modules/@portkey-ai/gateway/build/start-server.js';

interface PeerTarget {
  pid: number;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface PeersResult {
  rounds: number;
  perRound: number;
  latency: Record<Path, { p50: number; p99: number }>;
  /** Median over rounds of per-round (peer − direct) p50 / p99, after `warmCalls` calls per path. */
  added: Record<Peer, { p50: number; p99: number }>;
  warmCalls: number;
  /** (peer − direct) p50 of one round right after `earlyAfter` calls per path (the JIT still compiling). */
  addedEarly: Record<Peer, number>;
  earlyAfter: number;
  cpuRequests: number;
  /** CPU ms of the peer's process per request, median over rounds. */
  cpuPerRequestMs: Record<Peer, number>;
  saturation: { connections: number; durationS: number };
  rps: Record<Peer, number>;
  errors: Record<Peer, number>;
  /** RSS right after start (no traffic yet), and the peak during the saturation rounds. */
  rss: Record<Peer, { start: number; peak: number }>;
  /** At 200 ms upstream latency: the service with 200 concurrent 5-replicate runs, Portkey with 1,000 concurrent requests. */
  loaded: { upstreamMs: number; durationS: number; service: { runs: number; peakRss: number; rps: number; errors: number }; portkey: { requests: number; peakRss: number; rps: number; errors: number } };
}

/** VmRSS of a process in bytes (Linux). */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every 100 ms while `work` runs; resolves with its result and the peak. */
async function withPeakRss<T>(pid: number, work: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 100);
  try {
    const value = await work();
    peak = Math.max(peak, rssOf(pid));
    return { value, peak };
  } finally {
    clearInterval(timer);
  }
}

async function startPortkey(): Promise<NodeChild & { origin: string }> {
  const port = await freePort();
  const child = spawnNode(PORTKEY_SCRIPT, { execArgv: ['--import', './bench/workers/loopbackOnly.js'], args: [`--port=${port}`, '--headless'], lines: false, env: { NODE_ENV: 'production' } });
  const origin = `http://127.0.0.1:${port}`;
  await waitHttpOk(`${origin}/`, child);
  return { ...child, origin };
}

function portkeyHeaders(simUrl: string): Record<string, string> {
  return { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': simUrl, authorization: `Bearer ${API_KEY}` };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export const peersScenario: Scenario<PeersResult> = {
  id: 7,
  key: 'peers',
  title: 'Side by side with Portkey’s gateway and a bare proxy',
  async run(ctx) {
    const rounds = ctx.quick ? 2 : 3;
    const perRound = ctx.quick ? 60 : 200;
    /**
     * Calls per path before the measured rounds. The service's JIT is still compiling
     * well past 200 calls, and its added latency, relative to Portkey's, falls until
     * ~2,000 (BENCHMARKS.md, sixth pass): the target is taken warm, as a service that
     * stays up serves, and the round after `earlyAfter` calls is reported beside it.
     */
    const warmCalls = ctx.quick ? 200 : 2000;
    const earlyAfter = ctx.quick ? 50 : 200;
    const cpuRequests = ctx.quick ? 400 : 3000;
    const satConnections = 50;
    const satDurationS = ctx.quick ? 2 : 8;
    const started: NodeChild[] = [];
    const stopAll = async () => {
      for (const c of started.reverse()) await c.stop();
      started.length = 0;
    };
    try {
      const sim = await startSimulatorChild(0);
      started.push(sim);
      await sim.configure({ answers: { kind: 'fixed', value: ANSWER } });
      const rssAtStart = {} as Record<Peer, number>;
      const svc = await startServiceChild(sim.url);
      started.push(svc);
      const proxy = await startProxyChild(sim.origin);
      started.push(proxy);
      const portkey = await startPortkey();
      started.push(portkey);
      // Read after start-up settles, before any traffic.
      await sleep(1000);
      rssAtStart.service = rssOf(svc.pid);
      rssAtStart.proxy = rssOf(proxy.pid);
      rssAtStart.portkey = rssOf(portkey.pid);

      const chatJson = JSON.stringify(chatBody);
      const targets: Record<Peer, PeerTarget> = {
        proxy: { pid: proxy.pid, url: `${proxy.url}/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }, body: chatJson },
        portkey: { pid: portkey.pid, url: `${portkey.origin}/v1/chat/completions`, headers: { 'content-type': 'application/json', ...portkeyHeaders(sim.url) }, body: chatJson },
        service: { pid: svc.pid, url: `${svc.origin}/v1/runs`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(runBody(1)) },
      };

      // Same client stack (the openai SDK) on every path, so client costs cancel out.
      const clients = {
        direct: new OpenAI({ baseURL: sim.url, apiKey: API_KEY, maxRetries: 0 }),
        proxy: new OpenAI({ baseURL: proxy.url, apiKey: API_KEY, maxRetries: 0 }),
        portkey: new OpenAI({ baseURL: `${portkey.origin}/v1`, apiKey: API_KEY, maxRetries: 0, defaultHeaders: portkeyHeaders(sim.url) }),
        service: new OpenAI({ baseURL: `${svc.origin}/v1`, apiKey: API_KEY, maxRetries: 0 }),
      };
      let failures = 0;
      const call: Record<Path, () => Promise<unknown>> = {
        direct: () => clients.direct.chat.completions.create(chatBody),
        proxy: () => clients.proxy.chat.completions.create(chatBody),
        portkey: () => clients.portkey.chat.completions.create(chatBody),
        service: async () => {
          const run = await clients.service.post<{ status: string }>('/runs', { body: runBody(1) });
          if (run.status !== 'succeeded') failures++;
        },
      };

      /** One latency round: `perRound` sequential requests per path, the four paths interleaved request by request. */
      const latencyRound = async (): Promise<Record<Path, number[]>> => {
        const one: Record<Path, number[]> = { direct: [], proxy: [], portkey: [], service: [] };
        for (let i = 0; i < perRound; i++) {
          for (let k = 0; k < PATHS.length; k++) {
            const p = PATHS[(i + k) % PATHS.length] as Path;
            one[p].push(await timed(call[p]));
          }
        }
        return one;
      };
      const warmUp = async (calls: number) => {
        for (let i = 0; i < calls; i++) for (const p of PATHS) await call[p]();
      };
      const addedP50 = (one: Record<Path, number[]>, p: Peer) => summarize(one[p]).p50 - summarize(one.direct).p50;

      ctx.log(`warm-up (${earlyAfter} calls per path), then one early round`);
      await warmUp(earlyAfter);
      // 1a. Early: right after a short warm-up, while the JIT is still compiling (reported, not the target).
      const early = await latencyRound();
      const addedEarly = Object.fromEntries(PEERS.map((p) => [p, round(addedP50(early, p), 4)])) as Record<Peer, number>;
      ctx.log(`early round: ${PEERS.map((p) => `${p} +${addedEarly[p].toFixed(3)} ms`).join(', ')}; warming up to ${warmCalls} calls per path`);
      await warmUp(warmCalls - earlyAfter - perRound);

      // 1. Added latency, sequential, the four paths interleaved request by request, once warm.
      const samples: Record<Path, number[][]> = { direct: [], proxy: [], portkey: [], service: [] };
      for (let r = 0; r < rounds; r++) {
        const one = await latencyRound();
        for (const p of PATHS) samples[p].push(one[p]);
        ctx.log(`latency round ${r + 1}/${rounds}: ${PATHS.map((p) => `${p} ${median(one[p]).toFixed(3)} ms`).join(', ')}`);
      }
      const latency = Object.fromEntries(
        PATHS.map((p) => {
          const s = samples[p].map((x) => summarize(x));
          return [p, { p50: round(median(s.map((x) => x.p50)), 4), p99: round(median(s.map((x) => x.p99)), 4) }];
        }),
      ) as PeersResult['latency'];
      const added = Object.fromEntries(
        PEERS.map((p) => {
          const diff = (q: 'p50' | 'p99') => round(median(samples[p].map((s, r) => summarize(s)[q] - summarize(samples.direct[r] as number[])[q])), 4);
          return [p, { p50: diff('p50'), p99: diff('p99') }];
        }),
      ) as PeersResult['added'];
      closeIdleConnections();

      // 2. CPU per request at a fixed load (10 connections, a fixed number of requests), rounds interleaved.
      const cpuRounds: Record<Peer, number[]> = { proxy: [], portkey: [], service: [] };
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < PEERS.length; k++) {
          const p = PEERS[(r + k) % PEERS.length] as Peer;
          const t = targets[p];
          const before = processCpuMs(t.pid);
          const res = await cannon({ url: t.url, method: 'POST', headers: t.headers, body: t.body, connections: 10, amount: cpuRequests });
          const after = processCpuMs(t.pid);
          cpuRounds[p].push((after - before) / Math.max(1, res['2xx']));
        }
        ctx.log(`cpu round ${r + 1}/${rounds}: ${PEERS.map((p) => `${p} ${(cpuRounds[p].at(-1) as number).toFixed(3)} ms/request`).join(', ')}`);
      }
      const cpuPerRequestMs = Object.fromEntries(PEERS.map((p) => [p, round(median(cpuRounds[p]), 4)])) as Record<Peer, number>;

      // 3. Requests/s at saturation (autocannon -c 50), rounds interleaved, with the peak RSS meanwhile.
      const rpsRounds: Record<Peer, number[]> = { proxy: [], portkey: [], service: [] };
      const errors: Record<Peer, number> = { proxy: 0, portkey: 0, service: 0 };
      const peak: Record<Peer, number> = { proxy: 0, portkey: 0, service: 0 };
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < PEERS.length; k++) {
          const p = PEERS[(r + k) % PEERS.length] as Peer;
          const t = targets[p];
          const { value: res, peak: pk } = await withPeakRss(t.pid, () =>
            cannon({ url: t.url, method: 'POST', headers: t.headers, body: t.body, connections: satConnections, duration: satDurationS }),
          );
          rpsRounds[p].push(res['2xx'] / satDurationS);
          errors[p] += res.errors + res.timeouts + res.non2xx;
          peak[p] = Math.max(peak[p], pk);
        }
        ctx.log(`saturation round ${r + 1}/${rounds}: ${PEERS.map((p) => `${p} ${num(rpsRounds[p].at(-1))} req/s`).join(', ')}`);
      }
      const rps = Object.fromEntries(PEERS.map((p) => [p, round(median(rpsRounds[p]), 0)])) as Record<Peer, number>;
      errors.service += failures;
      const rss = Object.fromEntries(PEERS.map((p) => [p, { start: rssAtStart[p], peak: peak[p] }])) as PeersResult['rss'];
      await stopAll();

      // 4. Loaded RSS at 200 ms upstream, fresh processes: the issue's two load shapes.
      const upstreamMs = 200;
      const loadS = ctx.quick ? 3 : 10;
      const slowSim = await startSimulatorChild(upstreamMs);
      started.push(slowSim);
      const svc2 = await startServiceChild(slowSim.url);
      started.push(svc2);
      const serviceRuns = 200;
      const svcLoad = await withPeakRss(svc2.pid, () =>
        cannon({ url: `${svc2.origin}/v1/runs`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(runBody(5)), connections: serviceRuns, duration: loadS }),
      );
      ctx.log(`200 ms upstream: service, ${serviceRuns} concurrent 5-replicate runs: peak RSS ${bytes(svcLoad.peak)}`);
      await svc2.stop();
      const portkey2 = await startPortkey();
      started.push(portkey2);
      const portkeyRequests = 1000;
      const pkLoad = await withPeakRss(portkey2.pid, () =>
        cannon({ url: `${portkey2.origin}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json', ...portkeyHeaders(slowSim.url) }, body: chatJson, connections: portkeyRequests, duration: loadS }),
      );
      ctx.log(`200 ms upstream: Portkey, ${portkeyRequests} concurrent requests: peak RSS ${bytes(pkLoad.peak)}`);
      return {
        rounds,
        perRound,
        latency,
        added,
        warmCalls,
        addedEarly,
        earlyAfter,
        cpuRequests,
        cpuPerRequestMs,
        saturation: { connections: satConnections, durationS: satDurationS },
        rps,
        errors,
        rss,
        loaded: {
          upstreamMs,
          durationS: loadS,
          service: { runs: serviceRuns, peakRss: svcLoad.peak, rps: round(svcLoad.value['2xx'] / loadS, 0), errors: svcLoad.value.errors + svcLoad.value.timeouts + svcLoad.value.non2xx },
          portkey: { requests: portkeyRequests, peakRss: pkLoad.peak, rps: round(pkLoad.value['2xx'] / loadS, 0), errors: pkLoad.value.errors + pkLoad.value.timeouts + pkLoad.value.non2xx },
        },
      };
    } finally {
      await stopAll();
    }
  },
  render(r) {
    const ratio = (v: number, ref: number) => (Number.isFinite(v) && Number.isFinite(ref) && ref !== 0 ? `${(v / ref).toFixed(2)}×` : 'n/a');
    return [
      `One simulator process (0 ms, fixed answer) behind every path; each peer in its own process on loopback (the service as \`npm start\` runs it, \`node ${SERVICE_NODE_FLAGS.join(' ')} ${SERVICE_ENTRY}\`; Portkey started from its npm package with \`--headless\`, pinned to 127.0.0.1 by \`bench/workers/loopbackOnly.js\` (plain JS, so no type stripper in its process), forwarding with \`x-portkey-provider: openai\` and \`x-portkey-custom-host\`). Latency: after a warm-up of ${num(r.warmCalls)} calls per path, ${r.rounds} rounds × ${r.perRound} sequential requests per path, the four paths interleaved request by request (openai SDK client on every path); p50/p99 = median over rounds; "early" is one such round after only ${num(r.earlyAfter)} calls per path, while the JIT is still compiling. CPU: the peer process's user+system time from /proc over ${num(r.cpuRequests)} requests at 10 connections, per 2xx answer, median over ${r.rounds} interleaved rounds. Saturation: autocannon, ${r.saturation.connections} connections, ${r.saturation.durationS} s per round, median of ${r.rounds} interleaved rounds. RSS at start: after start-up, before any traffic; peak: highest reading (every 100 ms) during the saturation rounds.`,
      '',
      table(
        ['', LABEL.proxy, LABEL.portkey, LABEL.service, 'service ÷ Portkey'],
        [
          ['added latency p50 over direct', signedMs(r.added.proxy.p50, 3), signedMs(r.added.portkey.p50, 3), signedMs(r.added.service.p50, 3), ratio(r.added.service.p50, r.added.portkey.p50)],
          [`added latency p50, early (after ${num(r.earlyAfter)} calls)`, signedMs(r.addedEarly.proxy, 3), signedMs(r.addedEarly.portkey, 3), signedMs(r.addedEarly.service, 3), ratio(r.addedEarly.service, r.addedEarly.portkey)],
          ['added latency p99 over direct', signedMs(r.added.proxy.p99, 3), signedMs(r.added.portkey.p99, 3), signedMs(r.added.service.p99, 3), ratio(r.added.service.p99, r.added.portkey.p99)],
          ['CPU per request', ms(r.cpuPerRequestMs.proxy, 3), ms(r.cpuPerRequestMs.portkey, 3), ms(r.cpuPerRequestMs.service, 3), ratio(r.cpuPerRequestMs.service, r.cpuPerRequestMs.portkey)],
          [`requests/s at ${r.saturation.connections} connections`, num(r.rps.proxy), num(r.rps.portkey), num(r.rps.service), ratio(r.rps.service, r.rps.portkey)],
          ['RSS at start', bytes(r.rss.proxy.start), bytes(r.rss.portkey.start), bytes(r.rss.service.start), ratio(r.rss.service.start, r.rss.portkey.start)],
          ['RSS peak under saturation', bytes(r.rss.proxy.peak), bytes(r.rss.portkey.peak), bytes(r.rss.service.peak), ratio(r.rss.service.peak, r.rss.portkey.peak)],
          ['errors', num(r.errors.proxy), num(r.errors.portkey), num(r.errors.service), ''],
        ],
        ['l', 'r', 'r', 'r', 'r'],
      ),
      '',
      `Direct call: p50 ${ms(r.latency.direct.p50, 3)}, p99 ${ms(r.latency.direct.p99, 3)}.`,
      '',
      `Under load at ${r.loaded.upstreamMs} ms upstream latency (fresh processes, ${r.loaded.durationS} s of autocannon): the service with ${r.loaded.service.runs} concurrent 5-replicate runs peaked at ${bytes(r.loaded.service.peakRss)} RSS (${num(r.loaded.service.rps)} runs/s, ${r.loaded.service.errors} errors); Portkey with ${num(r.loaded.portkey.requests)} concurrent requests at ${bytes(r.loaded.portkey.peakRss)} (${num(r.loaded.portkey.rps)} requests/s, ${r.loaded.portkey.errors} errors).`,
    ].join('\n');
  },
  targets(r): TargetCheck[] {
    return [
      { target: 'one-replicate run: added latency p50 at or below Portkey’s', measured: `${signedMs(r.added.service.p50, 3)} vs Portkey ${signedMs(r.added.portkey.p50, 3)}`, met: r.added.service.p50 <= r.added.portkey.p50 },
      { target: 'one-replicate run: CPU per request at or below Portkey’s', measured: `${ms(r.cpuPerRequestMs.service, 3)} vs Portkey ${ms(r.cpuPerRequestMs.portkey, 3)}`, met: r.cpuPerRequestMs.service <= r.cpuPerRequestMs.portkey },
      { target: 'one-replicate run: requests/s at or above Portkey’s', measured: `${num(r.rps.service)} vs Portkey ${num(r.rps.portkey)}`, met: r.rps.service >= r.rps.portkey },
      { target: 'idle RSS at or below Portkey’s', measured: `${bytes(r.rss.service.start)} vs Portkey ${bytes(r.rss.portkey.start)}`, met: r.rss.service.start <= r.rss.portkey.start },
      { target: '200 concurrent 5-replicate runs at 200 ms upstream peak under 400 MiB RSS', measured: bytes(r.loaded.service.peakRss), met: r.loaded.service.peakRss < 400 * 1024 * 1024 },
    ];
  },
};
