import { Agent, handoff, MaxTurnsExceededError, type AgentInputItem, type Model, type ModelRequest, type ModelResponse, type Runner } from '@openai/agents-core';
import type { Attributes, Span } from '@opentelemetry/api';
import { ServiceError } from '../errors.ts';
import type { TraceContext } from '../lib/trace.ts';
import { endSpan, usageAttributes, type Tracing } from '../observability/tracing.ts';
import { addUsage, emptyUsage, type Usage } from '../schemas/bundle.ts';

/** One sub-agent of a handoff tool: who it is, what it does, whom it may hand the task to. */
export interface HandoffAgent {
  /** Its name; the transfer tool the others see is `transfer_to_<name>`. */
  name: string;
  instructions: string;
  /** What the agents that may hand to it are told about it. */
  description?: string | undefined;
  /** Agents it may hand the task to, by name. */
  handoffs: readonly string[];
}

/** The agents of a handoff tool, checked when the tool was loaded (names unique, every target declared). */
export interface HandoffPlan {
  /** The agent that gets the task first. */
  entry: string;
  agents: readonly HandoffAgent[];
  /** Model calls one replicate may make across all its agents (bounded by HANDOFFS_MAX_TURNS). */
  maxTurns: number;
}

/** An agent handed the task to another, after `turn` model calls, in a conversation on `provider`'s `model`. */
export interface HandoffTransfer {
  from: string;
  to: string;
  turn: number;
  provider: string;
  model: string;
}

/** What one turn (one model call of the conversation) spent. */
export interface TurnSpend {
  agent: string;
  turn: number;
  /** The provider that answered the turn (a fallback or panel model's, not necessarily the default one). */
  provider: string;
  model: string;
  usage: Usage;
  cost_usd: number;
}

/** A model call run as a conversation of agents, and who follows it. */
export interface HandoffRequest {
  plan: HandoffPlan;
  /** Each transfer, as it happens (before the next agent's request goes out). */
  onHandoff?: ((transfer: HandoffTransfer) => void) | undefined;
  /** Before every turn after the first: throw (a ServiceError) to stop the conversation, e.g. when the budget cannot cover it. `chars` is the prompt text it would send. */
  beforeTurn?: ((turn: number, chars: number) => void) | undefined;
  /** After every answered turn, with what it spent. A caller that passes it charges the turns itself. */
  onTurn?: ((spend: TurnSpend) => void) | undefined;
}

/** How the attempts of one turn appear on their `provider_call` spans (the gateway's shape). */
export interface TurnAttemptSpans<T> {
  attributes: Attributes;
  usage(result: T): { input_tokens: number; output_tokens: number };
}

/** What the gateway lends a handoff run: its runner, models and per-attempt call policy. */
export interface HandoffRunDeps {
  runner: Runner;
  model(name: string): Model;
  /** One provider operation under retries, breaker and limits; each attempt a `provider_call` span under `request.span`. */
  invoke<T>(
    model: string,
    request: { signal: AbortSignal; trace: TraceContext; tenant?: string | undefined; span?: Span | undefined },
    operation: () => Promise<T>,
    spans?: TurnAttemptSpans<T>,
  ): { value: Promise<T>; attempts: () => number };
  cost(model: string, usage: Usage): number;
  provider: string;
  tracing: Tracing;
}

/** The call as the gateway was asked for it, with the agent settings it built (output type, model settings). */
export interface HandoffCall {
  model: string;
  input: string | AgentInputItem[];
  signal: AbortSignal;
  trace: TraceContext;
  tenant?: string | undefined;
  span?: Span | undefined;
  handoffs: HandoffRequest;
  /** `outputType` and `modelSettings` of every agent (the same for all). */
  agentOptions: Record<string, unknown>;
  /** Each agent's instructions as sent: the answer's schema appended where the model cannot enforce it. */
  fitInstructions?: ((instructions: string) => string) | undefined;
}

/** The conversation's answer and what it spent in all. */
export interface HandoffOutcome {
  finalOutput: unknown;
  usage: Usage;
  cost_usd: number;
  attempts: number;
}

/** A conversation that failed: the cause, and what its answered turns had spent. */
export class HandoffRunError extends Error {
  readonly attempts: number;
  readonly usage: Usage;
  readonly cost_usd: number;

  constructor(cause: unknown, attempts: number, usage: Usage, costUsd: number) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = new.target.name;
    this.attempts = attempts;
    this.usage = usage;
    this.cost_usd = costUsd;
  }
}

/**
 * Runs one replicate as a conversation of agents that hand the task to one
 * another (the Agents SDK's `handoffs`), at most `plan.maxTurns` model
 * calls. Each turn is one provider operation of its own (retried alone,
 * admitted by the breaker, a `provider_call` span), so a failure in turn 3
 * never repeats turns 1 and 2; each transfer is reported and opens a
 * `handoff` span under which the receiving agent's calls go.
 */
export async function runWithHandoffs(deps: HandoffRunDeps, call: HandoffCall): Promise<HandoffOutcome> {
  const { plan } = call.handoffs;
  const tracing = deps.tracing.enabled && call.span ? deps.tracing : undefined;
  const state = { agent: plan.entry, turn: 0, attempts: 0, usage: emptyUsage(), cost: 0, parent: call.span, handoffSpan: undefined as Span | undefined, spanUsage: emptyUsage() };
  /** Ends the open handoff span with what the turns under it spent. */
  const endHandoffSpan = (error?: { code: string; message: string }) => {
    if (!state.handoffSpan) return;
    endSpan(state.handoffSpan, { attributes: usageAttributes(state.spanUsage), ...(error ? { error } : {}) });
    state.handoffSpan = undefined;
  };

  const transfer = (from: string, to: string) => {
    if (tracing && call.span) {
      endHandoffSpan();
      state.spanUsage = emptyUsage();
      state.handoffSpan = tracing.startChild('handoff', call.span, { 'handoff.from': from, 'handoff.to': to, 'handoff.turn': state.turn, 'gen_ai.agent.name': to });
      state.parent = state.handoffSpan;
    }
    state.agent = to;
    call.handoffs.onHandoff?.({ from, to, turn: state.turn, provider: deps.provider, model: call.model });
  };

  const inner = deps.model(call.model);
  const model: Model = {
    getResponse: async (request: ModelRequest): Promise<ModelResponse> => {
      const turn = ++state.turn;
      if (turn > 1) call.handoffs.beforeTurn?.(turn, promptChars(request));
      const agent = state.agent;
      const spans: TurnAttemptSpans<ModelResponse> | undefined = tracing
        ? {
            attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': deps.provider, 'gen_ai.request.model': call.model, 'gen_ai.agent.name': agent, 'handoff.turn': turn },
            usage: (r) => ({ input_tokens: r.usage.inputTokens, output_tokens: r.usage.outputTokens }),
          }
        : undefined;
      const attempt = deps.invoke(call.model, { signal: call.signal, trace: call.trace, tenant: call.tenant, span: state.parent }, () => inner.getResponse(request), spans);
      try {
        const response = await attempt.value;
        const usage: Usage = { input_tokens: response.usage.inputTokens, output_tokens: response.usage.outputTokens, total_tokens: response.usage.inputTokens + response.usage.outputTokens };
        const cost = deps.cost(call.model, usage);
        state.usage = addUsage(state.usage, usage);
        state.spanUsage = addUsage(state.spanUsage, usage);
        state.cost += cost;
        call.handoffs.onTurn?.({ agent, turn, provider: deps.provider, model: call.model, usage, cost_usd: cost });
        return response;
      } finally {
        state.attempts += attempt.attempts();
      }
    },
    getStreamedResponse: () => {
      throw new Error('handoff runs are not streamed');
    },
  };

  const agents = new Map<string, Agent>();
  for (const spec of plan.agents) {
    const agent = new Agent({ name: spec.name, instructions: call.fitInstructions ? call.fitInstructions(spec.instructions) : spec.instructions, handoffDescription: spec.description ?? '', model, ...call.agentOptions });
    agent.on('agent_handoff', (_context, next) => transfer(spec.name, next.name));
    agents.set(spec.name, agent);
  }
  for (const spec of plan.agents) {
    // Targets were checked at load time; a cycle (a → b → a) is fine, turns are bounded.
    (agents.get(spec.name) as Agent).handoffs = spec.handoffs.map((name) => handoff(agents.get(name) as Agent));
  }
  const entry = agents.get(plan.entry);
  if (!entry) throw new HandoffRunError(new ServiceError('internal', `handoff plan has no agent ${plan.entry}`), 0, emptyUsage(), 0);

  try {
    const result = await deps.runner.run(entry, call.input, { signal: call.signal, maxTurns: plan.maxTurns });
    endHandoffSpan();
    return { finalOutput: result.finalOutput, usage: state.usage, cost_usd: state.cost, attempts: state.attempts };
  } catch (error) {
    const cause =
      error instanceof MaxTurnsExceededError
        ? new ServiceError('provider_error', `the agents made ${plan.maxTurns} model calls without a final answer (max_turns ${plan.maxTurns}, bounded by HANDOFFS_MAX_TURNS)`, {
            cause: error,
            retryable: false,
            fault: 'caller',
            details: { reason: 'max_turns', max_turns: plan.maxTurns },
          })
        : error;
    endHandoffSpan(cause instanceof ServiceError ? cause : { code: 'provider_error', message: String(cause) });
    throw new HandoffRunError(cause, state.attempts, state.usage, state.cost);
  }
}

/** Keys whose string values are text the model reads (not item types, ids or roles). */
const TEXT_KEYS = new Set(['content', 'text', 'output', 'arguments']);

/** Characters of prompt text a turn sends: instructions plus every message, tool call and tool result text. */
function promptChars(request: ModelRequest): number {
  let chars = request.systemInstructions?.length ?? 0;
  const walk = (node: unknown, key: string | undefined, depth: number): void => {
    if (depth > 16) return;
    if (typeof node === 'string') {
      if (key !== undefined && TEXT_KEYS.has(key)) chars += node.length;
    } else if (Array.isArray(node)) for (const item of node) walk(item, key, depth + 1);
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, k, depth + 1);
  };
  if (typeof request.input === 'string') chars += request.input.length;
  else walk(request.input, undefined, 0);
  return chars;
}
