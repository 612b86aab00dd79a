/**
 * 0. Added latency of a one-replicate run over a direct openai SDK call,
 * with a bare node:http pass-through proxy as the floor; then, in-process,
 * the Agents SDK's own cost over a plain SDK call.
 */
import { Agent, OpenAIProvider, Runner, setTracingDisabled } from '@openai/agents';
import OpenAI from 'openai';
import { ms, signedMs } from '../lib/format.ts';
import { table } from '../lib/markdown.ts';
import { startProxyChild, startServiceChild, startSimulatorChild, type NodeChild } from '../lib/procs.ts';
import type { Scenario, TargetCheck } from '../lib/scenario.ts';
import { ANSWER, API_KEY, chatBody, MODEL, PROMPT, runBody } from '../lib/workload.ts';
import { median, round, summarize, type Summary } from '../lib/stats.ts';


type PathName = 'direct' | 'service' | 'proxy';
const PATHS: PathName[] = ['direct', 'service', 'proxy'];

interface PathStats {
  /** Median of the per-round medians. */
  p50: number;
  /** Median of the per-round p99s. */
  p99: number;
  pooled: Summary;
  roundP50: number[];
}

export interface LatencyResult {
  rounds: number;
  perRound: number;
  paths: Record<PathName, PathStats>;
  /** Medians over rounds of the per-round median differences. */
  diff: { serviceMinusDirect: number; proxyMinusDirect: number; serviceMinusProxy: number };
  diffP99: { serviceMinusDirect: number; proxyMinusDirect: number; serviceMinusProxy: number };
  errors: number;
  /** Where the service's time goes, per service request (p50s). */
  breakdown: { callInServiceP50: number; outsideCallP50: number };
  agents: { calls: number; sdk: Summary; agents: Summary; diffP50: number; diffP99: number };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export const latencyScenario: Scenario<LatencyResult> = {
  id: 0,
  key: 'latency',
  title: 'Added latency of a one-replicate run',
  async run(ctx) {
    const rounds = ctx.quick ? 2 : 5;
    const perRound = ctx.quick ? 60 : 200;
    const agentCalls = ctx.quick ? 80 : 300;
    const started: NodeChild[] = [];
    try {
      const sim = await startSimulatorChild(0);
      started.push(sim);
      await sim.configure({ answers: { kind: 'fixed', value: ANSWER } });
      const svc = await startServiceChild(sim.url);
      started.push(svc);
      const proxy = await startProxyChild(sim.origin);
      started.push(proxy);

      const direct = new OpenAI({ baseURL: sim.url, apiKey: API_KEY, maxRetries: 0 });
      const viaProxy = new OpenAI({ baseURL: proxy.url, apiKey: API_KEY, maxRetries: 0 });
      // Same client stack (the openai SDK's fetch) for the service path, so client costs cancel out.
      const viaService = new OpenAI({ baseURL: `${svc.origin}/v1`, apiKey: API_KEY, maxRetries: 0 });
      let errors = 0;
      // The provider call as the service timed it (gateway: retry + breaker + Agents SDK + fetch), per service request.
      let lastCallMs = Number.NaN;
      const callInService: number[] = [];
      const outsideCall: number[] = [];
      const call: Record<PathName, () => Promise<unknown>> = {
        direct: () => direct.chat.completions.create(chatBody),
        proxy: () => viaProxy.chat.completions.create(chatBody),
        service: async () => {
          const run = await viaService.post<{ status: string; bundle: { replicates: { latency_ms: number }[] } | null }>('/runs', { body: runBody(1) });
          if (run.status !== 'succeeded') errors++;
          lastCallMs = run.bundle?.replicates[0]?.latency_ms ?? Number.NaN;
        },
      };

      ctx.log(`warm-up (${ctx.quick ? 50 : 200} calls per path)`);
      for (let i = 0; i < (ctx.quick ? 50 : 200); i++) for (const p of PATHS) await call[p]();

      const samples: Record<PathName, number[][]> = { direct: [], service: [], proxy: [] };
      for (let r = 0; r < rounds; r++) {
        for (const p of PATHS) samples[p].push([]);
        for (let i = 0; i < perRound; i++) {
          // Rotate the order every request so no path always follows another.
          for (let k = 0; k < PATHS.length; k++) {
            const p = PATHS[(i + k) % PATHS.length] as PathName;
            const t = await timed(call[p]);
            (samples[p][r] as number[]).push(t);
            if (p === 'service') {
              callInService.push(lastCallMs);
              outsideCall.push(t - lastCallMs);
            }
          }
        }
        ctx.log(`round ${r + 1}/${rounds}: direct ${median(samples.direct[r] as number[]).toFixed(3)} ms, service ${median(samples.service[r] as number[]).toFixed(3)} ms, proxy ${median(samples.proxy[r] as number[]).toFixed(3)} ms`);
      }

      const stats = (p: PathName): PathStats => {
        const perRoundSummaries = samples[p].map((s) => summarize(s));
        return {
          p50: round(median(perRoundSummaries.map((s) => s.p50)), 4),
          p99: round(median(perRoundSummaries.map((s) => s.p99)), 4),
          pooled: summarize(samples[p].flat()),
          roundP50: perRoundSummaries.map((s) => round(s.p50, 4)),
        };
      };
      const paths = { direct: stats('direct'), service: stats('service'), proxy: stats('proxy') };
      const roundDiff = (a: PathName, b: PathName, q: 'p50' | 'p99') =>
        round(median(samples[a].map((s, r) => summarize(s)[q] - summarize(samples[b][r] as number[])[q])), 4);

      // In-process: plain SDK call vs Agents SDK Runner.run(), same client, interleaved.
      setTracingDisabled(true);
      const openAIClient = new OpenAI({ baseURL: sim.url, apiKey: API_KEY, maxRetries: 0 });
      const runner = new Runner({ modelProvider: new OpenAIProvider({ openAIClient, useResponses: false }), tracingDisabled: true });
      const agent = new Agent({ name: 'bench', instructions: '', model: MODEL });
      const sdkCall = () => openAIClient.chat.completions.create(chatBody);
      const agentsCall = () => runner.run(agent, PROMPT, { maxTurns: 1 });
      for (let i = 0; i < 50; i++) {
        await sdkCall();
        await agentsCall();
      }
      const sdkT: number[] = [];
      const agentsT: number[] = [];
      for (let i = 0; i < agentCalls; i++) {
        if (i % 2 === 0) {
          sdkT.push(await timed(sdkCall));
          agentsT.push(await timed(agentsCall));
        } else {
          agentsT.push(await timed(agentsCall));
          sdkT.push(await timed(sdkCall));
        }
      }
      const sdk = summarize(sdkT);
      const agents = summarize(agentsT);
      return {
        rounds,
        perRound,
        paths,
        diff: {
          serviceMinusDirect: roundDiff('service', 'direct', 'p50'),
          proxyMinusDirect: roundDiff('proxy', 'direct', 'p50'),
          serviceMinusProxy: roundDiff('service', 'proxy', 'p50'),
        },
        diffP99: {
          serviceMinusDirect: roundDiff('service', 'direct', 'p99'),
          proxyMinusDirect: roundDiff('proxy', 'direct', 'p99'),
          serviceMinusProxy: roundDiff('service', 'proxy', 'p99'),
        },
        errors,
        breakdown: {
          callInServiceP50: round(median(callInService), 4),
          outsideCallP50: round(median(outsideCall), 4),
        },
        agents: { calls: agentCalls, sdk, agents, diffP50: round(agents.p50 - sdk.p50, 4), diffP99: round(agents.p99 - sdk.p99, 4) },
      };
    } finally {
      for (const c of started.reverse()) await c.stop();
    }
  },
  render(r) {
    const rows = PATHS.map((p) => [
      { direct: 'direct (openai SDK → simulator)', service: 'via service (`POST /v1/runs`, 1 replicate)', proxy: 'via bare node:http proxy' }[p],
      ms(r.paths[p].p50, 3),
      ms(r.paths[p].p99, 3),
      r.paths[p].roundP50.map((v) => v.toFixed(3)).join(' / '),
    ]);
    return [
      `Sequential requests from the bench process, ${r.rounds} rounds × ${r.perRound} requests per path, the three paths interleaved request by request; simulator (own process) at 0 ms latency with a fixed answer. p50 = median of round medians, p99 = median of round p99s. Errors: ${r.errors}.`,
      '',
      table(['path', 'p50', 'p99', 'round medians (ms)'], rows, ['l', 'r', 'r', 'l']),
      '',
      table(
        ['difference', 'p50', 'p99', 'target / anchor'],
        [
          ['service − direct (added latency)', signedMs(r.diff.serviceMinusDirect, 3), signedMs(r.diffP99.serviceMinusDirect, 3), 'anchors: Bifrost 0.44 ms, Portkey OSS 2.37 ms, LiteLLM 4.34 ms'],
          ['proxy − direct (floor)', signedMs(r.diff.proxyMinusDirect, 3), signedMs(r.diffP99.proxyMinusDirect, 3), ''],
          ['service − proxy', signedMs(r.diff.serviceMinusProxy, 3), signedMs(r.diffP99.serviceMinusProxy, 3), 'target ≤ 1.0 ms'],
        ],
        ['l', 'r', 'r', 'l'],
      ),
      '',
      `Inside the service (p50 per request): the provider call as the gateway times it (retry + breaker + Agents SDK + fetch) takes ${ms(r.breakdown.callInServiceP50, 3)} vs ${ms(r.paths.direct.p50, 3)} for the direct SDK call; everything outside it (HTTP in/out, validation, planning, orchestration, bundle, events, serialisation) takes ${ms(r.breakdown.outsideCallP50, 3)}.`,
      '',
      `In-process, same openai client, ${r.agents.calls} sequential calls each, interleaved: the Agents SDK's own cost.`,
      '',
      table(
        ['call', 'p50', 'p99'],
        [
          ['`client.chat.completions.create`', ms(r.agents.sdk.p50, 3), ms(r.agents.sdk.p99, 3)],
          ['`Runner.run(agent)` (@openai/agents, chat completions, tracing off)', ms(r.agents.agents.p50, 3), ms(r.agents.agents.p99, 3)],
          ['Agents SDK − plain SDK', signedMs(r.agents.diffP50, 3), signedMs(r.agents.diffP99, 3)],
        ],
        ['l', 'r', 'r'],
      ),
    ].join('\n');
  },
  targets(r): TargetCheck[] {
    return [
      {
        target: 'added latency within 1.0 ms of the bare proxy (p50)',
        measured: `service − proxy ${signedMs(r.diff.serviceMinusProxy, 3)} (service − direct ${signedMs(r.diff.serviceMinusDirect, 3)})`,
        met: r.diff.serviceMinusProxy <= 1.0,
      },
    ];
  },
};

