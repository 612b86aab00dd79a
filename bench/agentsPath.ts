/**
 * What an Agents SDK run costs over a plain openai SDK call, and which reuse
 * or runner options cut it. Same client, same simulator (own process, fixed
 * answer); every variant sends the same chat completions request.
 *
 *   npx node bench/agentsPath.ts [--rounds=5] [--calls=400] [--warmup=200] [--mem=1000] [--mem-rounds=3]
 *                                [--prompt-kib=N] [--variants=sdk,current,...] [--no-mem] [--no-latency]
 *   npx node --cpu-prof --cpu-prof-dir=/tmp/prof bench/agentsPath.ts --profile=current --calls=8000 --warmup=2000
 *   npx node bench/topFunctions.ts /tmp/prof --top=30
 *
 * Latency: sequential calls at 0 ms simulator latency, the variants
 * interleaved request by request (order rotated every request); p50 = median
 * of round medians, p99 = median of round p99s; CPU = median of this
 * process's user + system time per call (process.cpuUsage around each call;
 * a median, because forced-by-allocation GC lands on whichever call
 * triggers it; `--profile` prints the mean, GC included, of one variant).
 * Memory: `--mem` calls of one variant launched at once against a simulator
 * that holds them (60 s), full GC once the simulator sees all of them in
 * flight, heapUsed delta / calls; then they are aborted. Every variant pays
 * the same bench-side cost (an AbortController and a pending promise each).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import OpenAI from 'openai';
import {
  Agent,
  OpenAIChatCompletionsModel,
  OpenAIProvider,
  Runner,
  setTracingDisabled,
  withTrace,
  type AgentInputItem,
  type Model,
} from '@openai/agents';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { traceFromHeaders } from '../src/lib/trace.ts';
import { gatewayFromConfig } from '../src/providers/gateway.ts';
import { table } from './lib/markdown.ts';
import { startSimulatorChild } from './lib/procs.ts';
import { median, round, sleep, summarize } from './lib/stats.ts';
import { ANSWER, API_KEY, MODEL, PROMPT as SHORT_PROMPT } from './lib/workload.ts';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k as string, v ?? 'true'] as const;
  }),
);
const num = (name: string, fallback: number) => Number(args.get(name) ?? fallback);
const ROUNDS = num('rounds', 5);
const CALLS = num('calls', 400);
const MEM_CALLS = num('mem', 1000);
const MEM_ROUNDS = num('mem-rounds', 3);
const WARMUP = num('warmup', 200);
// A longer prompt (padded to about this many KiB) shows what scales with the input.
const PROMPT_KIB = num('prompt-kib', 0);
const PROMPT = PROMPT_KIB > 0 ? `${SHORT_PROMPT} ${'lorem ipsum '.repeat(Math.ceil((PROMPT_KIB * 1024) / 12))}`.slice(0, PROMPT_KIB * 1024) : SHORT_PROMPT;

// A full GC without asking for --expose-gc on the command line.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

setTracingDisabled(true);
const sim = await startSimulatorChild(0);
await sim.configure({ answers: { kind: 'fixed', value: ANSWER } });

const client = new OpenAI({ baseURL: sim.url, apiKey: API_KEY, maxRetries: 0 });
const provider = new OpenAIProvider({ openAIClient: client, useResponses: false });
// As the gateway builds it.
const runner = new Runner({ modelProvider: provider, tracingDisabled: true });
// Runner options that look as if they could skip per-run work; with tracing off they only shape a no-op trace.
const leanRunner = new Runner({
  modelProvider: provider,
  tracingDisabled: true,
  traceIncludeSensitiveData: false,
  workflowName: 'replicate',
});
const model: Model = await provider.getModel(MODEL);
// The service's own gateway (retries, breaker, semaphore, trace headers around the Agents SDK run), its own client.
const gateway = gatewayFromConfig(loadConfig({ MAX_GLOBAL_CONCURRENCY: '100000' }), {
  provider: 'simulator',
  baseURL: sim.url,
  apiKey: API_KEY,
  logger: pino({ level: 'silent' }),
});
const trace = traceFromHeaders(undefined, undefined);
const directModel = new OpenAIChatCompletionsModel(client, MODEL);

let seed = 0;
const settings = (s: number) => ({ providerData: { seed: s } });
// The gateway's Agent: empty instructions, model by name, seed in providerData.
const newAgent = (s: number, m: string | Model = MODEL) => new Agent({ name: 'replicate', instructions: '', model: m, modelSettings: settings(s) });
const reusedAgent = newAgent(1);
const reusedAgentModel = newAgent(1, model);
const items = (): AgentInputItem[] => [{ role: 'user', content: PROMPT }];
// An identity input filter that asks the SDK not to deep-copy the turn input for it.
const identityFilter = Object.assign((args: { modelData: { input: AgentInputItem[]; instructions?: string } }) => args.modelData, { preserveInputIdentity: true });

type Call = (signal: AbortSignal) => Promise<unknown>;
const VARIANTS: Record<string, { label: string; call: Call }> = {
  sdk: {
    label: 'plain `client.chat.completions.create` (baseline)',
    call: (signal) => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: PROMPT }], seed: ++seed }, { signal }),
  },
  current: {
    label: 'gateway today: `new Agent` (model name) + `runner.run(agent, string)`',
    call: (signal) => runner.run(newAgent(++seed), PROMPT, { signal, maxTurns: 1 }),
  },
  // Reuse needs one seed for all calls: the seed lives in the Agent's modelSettings.
  agentReused: {
    label: 'one Agent for every call (fixed seed)',
    call: (signal) => runner.run(reusedAgent, PROMPT, { signal, maxTurns: 1 }),
  },
  modelObject: {
    label: '`new Agent` per call with the resolved Model object',
    call: (signal) => runner.run(newAgent(++seed, model), PROMPT, { signal, maxTurns: 1 }),
  },
  agentModelReused: {
    label: 'one Agent holding the Model object (fixed seed)',
    call: (signal) => runner.run(reusedAgentModel, PROMPT, { signal, maxTurns: 1 }),
  },
  clone: {
    label: '`agent.clone({ modelSettings })` of a cached Agent',
    call: (signal) => runner.run(reusedAgentModel.clone({ modelSettings: settings(++seed) }), PROMPT, { signal, maxTurns: 1 }),
  },
  items: {
    label: 'gateway today, input as `AgentInputItem[]`',
    call: (signal) => runner.run(newAgent(++seed), items(), { signal, maxTurns: 1 }),
  },
  leanRunner: {
    label: 'gateway today on a Runner with `traceIncludeSensitiveData: false`, `workflowName`',
    call: (signal) => leanRunner.run(newAgent(++seed), PROMPT, { signal, maxTurns: 1 }),
  },
  filter: {
    label: 'gateway today with an identity `callModelInputFilter` (`preserveInputIdentity: true`)',
    call: (signal) => runner.run(newAgent(++seed), PROMPT, { signal, maxTurns: 1, callModelInputFilter: identityFilter }),
  },
  gateway: {
    label: '`OpenAIGateway.call()` (the service\'s whole provider call: retry, breaker, semaphore, trace headers, Agents SDK)',
    call: (signal) => gateway.call({ model: MODEL, input: PROMPT, seed: ++seed, signal, trace }),
  },
  getResponse: {
    label: 'reference: `model.getResponse()` directly (no Runner; in a no-op trace, which the model needs)',
    call: (signal) =>
      withTrace('bench', () => directModel.getResponse({
        input: PROMPT,
        modelSettings: settings(++seed),
        tools: [],
        handoffs: [],
        outputType: 'text',
        tracing: false,
        signal,
      })),
  },
};

const names = (args.get('variants')?.split(',') ?? Object.keys(VARIANTS)).filter((n) => {
  if (!(n in VARIANTS)) throw new Error(`unknown variant ${n}; known: ${Object.keys(VARIANTS).join(', ')}`);
  return true;
});
const callOf = (n: string): Call => (VARIANTS[n] as { call: Call }).call;

/** CPU time (user + system, µs) of this process per call, per variant. */
const cpuUs: Record<string, number[]> = {};

async function timed(call: Call, name?: string): Promise<number> {
  const signal = new AbortController().signal;
  const cpu = process.cpuUsage();
  const t = performance.now();
  await call(signal);
  const wall = performance.now() - t;
  if (name) {
    const used = process.cpuUsage(cpu);
    (cpuUs[name] ??= []).push(used.user + used.system);
  }
  return wall;
}

// Sanity: every variant gets the fixed answer.
for (const n of names) {
  const r = (await callOf(n)(new AbortController().signal)) as { finalOutput?: unknown; choices?: { message: { content: string } }[]; output?: unknown };
  const text = r.finalOutput ?? (typeof r.output === 'string' ? r.output : undefined) ?? r.choices?.[0]?.message.content ?? JSON.stringify(r.output);
  if (!String(text).includes(ANSWER)) throw new Error(`${n}: unexpected answer ${String(text)}`);
}

const profile = args.get('profile');
if (profile) {
  // One variant in a loop, for --cpu-prof.
  for (let i = 0; i < WARMUP; i++) await timed(callOf(profile));
  const t: number[] = [];
  for (let i = 0; i < CALLS; i++) t.push(await timed(callOf(profile), profile));
  const c = cpuUs[profile] as number[];
  console.log(`${profile}: ${CALLS} calls, p50 ${median(t).toFixed(3)} ms, CPU per call: mean ${(c.reduce((a, b) => a + b, 0) / c.length).toFixed(0)} µs (GC included), median ${median(c).toFixed(0)} µs`);
  await gateway.close();
  await sim.stop();
  process.exit(0);
}

const lat: Record<string, { p50: number; p99: number; rounds: number[] }> = {};
if (!args.has('no-latency')) {
  console.error(`warm-up: ${WARMUP} calls per variant`);
  for (let i = 0; i < WARMUP; i++) for (const n of names) await timed(callOf(n));
  const samples: Record<string, number[][]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of names) samples[n]?.push([]);
    for (let i = 0; i < CALLS; i++) {
      // Rotate the order every request so no variant always follows another.
      for (let k = 0; k < names.length; k++) {
        const n = names[(i + k) % names.length] as string;
        (samples[n]?.[r] as number[]).push(await timed(callOf(n), n));
      }
    }
    console.error(`round ${r + 1}/${ROUNDS}: ${names.map((n) => `${n} ${median(samples[n]?.[r] as number[]).toFixed(3)}`).join(', ')}`);
  }
  for (const n of names) {
    const s = (samples[n] as number[][]).map((x) => summarize(x));
    lat[n] = { p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)), rounds: s.map((x) => x.p50) };
  }
}

/** Heap per in-flight call of one variant (bytes). */
async function heapPerCall(n: string): Promise<number> {
  const controllers = Array.from({ length: MEM_CALLS }, () => new AbortController());
  const settled: Promise<unknown>[] = [];
  gc();
  gc();
  const base = process.memoryUsage().heapUsed;
  for (const c of controllers) settled.push(callOf(n)(c.signal).catch(() => undefined));
  const deadline = performance.now() + 30_000;
  while ((await sim.stats()).inFlight < MEM_CALLS) {
    if (performance.now() > deadline) throw new Error(`${n}: not all ${MEM_CALLS} calls reached the simulator`);
    await sleep(20);
  }
  gc();
  gc();
  const loaded = process.memoryUsage().heapUsed;
  for (const c of controllers) c.abort();
  await Promise.all(settled);
  while ((await sim.stats()).inFlight > 0) await sleep(20);
  return (loaded - base) / MEM_CALLS;
}

const mem: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
if (!args.has('no-mem')) {
  await sim.configure({ latencyMs: 60_000 });
  // The first burst grows pools (sockets, undici) that later bursts reuse.
  await heapPerCall(names[0] as string);
  for (let r = 0; r < MEM_ROUNDS; r++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(r + k) % names.length] as string;
      mem[n]?.push(await heapPerCall(n));
    }
    console.error(`memory round ${r + 1}/${MEM_ROUNDS}: ${names.map((n) => `${n} ${((mem[n]?.[r] ?? 0) / 1024).toFixed(1)} KiB`).join(', ')}`);
  }
  await sim.configure({ latencyMs: 0 });
}
await gateway.close();
await sim.stop();

const base = lat.sdk;
console.log(
  `Node ${process.version}; prompt ${PROMPT.length} chars; ${ROUNDS} rounds × ${CALLS} sequential calls per variant, interleaved; memory: ${MEM_CALLS} calls in flight, median of ${MEM_ROUNDS} bursts.\n`,
);
console.log(
  table(
    ['variant', 'p50 ms', 'p99 ms', 'p50 − sdk', 'round p50s', 'CPU µs / call (p50)', 'KiB / in-flight call'],
    names.map((n) => {
      const l = lat[n];
      const m = mem[n] as number[];
      return [
        `\`${n}\` ${(VARIANTS[n] as { label: string }).label}`,
        l ? l.p50.toFixed(3) : 'n/a',
        l ? l.p99.toFixed(3) : 'n/a',
        l && base ? `${l.p50 - base.p50 >= 0 ? '+' : '−'}${Math.abs(l.p50 - base.p50).toFixed(3)}` : 'n/a',
        l ? l.rounds.map((v) => v.toFixed(3)).join(' / ') : 'n/a',
        cpuUs[n] ? median(cpuUs[n]).toFixed(0) : 'n/a',
        m.length ? `${round(median(m) / 1024, 1)} (${m.map((v) => (v / 1024).toFixed(1)).join(' / ')})` : 'n/a',
      ];
    }),
    ['l', 'r', 'r', 'r', 'l', 'r', 'r'],
  ),
);
