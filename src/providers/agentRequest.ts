/**
 * How one model call becomes an Agents SDK request: the Agent (instructions,
 * output type, model settings) fitted to the model's capabilities, the input
 * items, and the answer read back (parsed, unwrapped). Pure: no client, no I/O.
 */
import { Agent, type AgentInputItem, type AgentOutputType } from '@openai/agents-core';
import { addUsage, emptyUsage, type Usage } from '../schemas/bundle.ts';
import type { RunInput } from '../schemas/request.ts';
import type { CallPlan } from './capabilities.ts';
import type { ModelCallRequest } from './callTypes.ts';

/** Wraps a JSON Schema whose root is not an object, since structured outputs need an object root. */
export const WRAP_KEY = 'value';
/** Keywords holding data, not schemas: a `$ref` inside them is not a reference. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples']);

/**
 * `{type: object, properties: {value: schema}}`, with the schema's `$defs`
 * and `definitions` hoisted to the wrapper's root so `#/$defs/…` references
 * still resolve, and every other local reference (`#`, `#/properties/…`)
 * moved under `#/properties/value`. The schema was checked by the validator
 * already (bounded depth, local references only).
 */
export function wrapSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#') && !/^#\/(\$defs|definitions)(\/|$)/.test(v)) {
        Object.defineProperty(out, k, { value: `#/properties/${WRAP_KEY}${v.slice(1)}`, enumerable: true, writable: true, configurable: true });
      } else Object.defineProperty(out, k, { value: DATA_KEYWORDS.has(k) ? v : rewrite(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  // An inner $id would rebase the references under it; it belongs to the document's root.
  const { $defs, definitions, $id, $schema, ...inner } = rewrite(schema) as Record<string, unknown>;
  return {
    ...($schema !== undefined ? { $schema } : {}),
    ...($id !== undefined ? { $id } : {}),
    type: 'object',
    properties: { [WRAP_KEY]: inner },
    required: [WRAP_KEY],
    additionalProperties: false,
    ...($defs !== undefined ? { $defs } : {}),
    ...(definitions !== undefined ? { definitions } : {}),
  };
}

/** The Agent of one call, whatever its output type. */
export type CallAgent = Agent<unknown, AgentOutputType>;

/** What the call sends: the Agent, and how to read its answer back. */
export interface AgentRequest {
  agent: CallAgent;
  /** Reads the SDK's final output into the call's answer. */
  read(finalOutput: unknown): unknown;
  /** Other instructions fitted like the agent's (the schema appended where the model cannot enforce it): a handoff tool's agents. */
  fit(instructions: string): string;
}

/**
 * The Agent of one call under `plan` (see capabilities.ts `planCall`):
 * `json_schema` asks the provider to enforce the schema; `json_object`
 * asks for JSON mode and gives the schema in the instructions; `prompt`
 * only gives the schema in the instructions. The answer is validated
 * against the schema afterwards in every mode, so a degraded mode never
 * loosens what a valid replicate is.
 *
 * A fresh Agent per call on purpose: the seed lives in its modelSettings (a run takes no
 * model settings of its own), building one costs ~0.5 µs, and neither a cached Agent nor a
 * resolved Model object measurably cuts the SDK's cost (bench/agentsPath.ts): that is spent
 * inside Runner.run itself (RunState, session bookkeeping even without a session, input copies).
 */
export function agentRequest(request: ModelCallRequest, plan: CallPlan, api: 'chat_completions' | 'responses'): AgentRequest {
  const schema = request.outputSchema;
  const wrapped = schema !== undefined && schema.type !== 'object';
  const sent = schema === undefined ? undefined : wrapped ? wrapSchema(schema) : schema;
  const structure = sent === undefined ? null : plan.structure;
  const fit = (text: string) => (structure === 'json_object' || structure === 'prompt' ? withSchemaInstructions(text, sent as Record<string, unknown>) : text);
  const providerData: Record<string, unknown> = {};
  // The Responses API has no `seed` (planCall already dropped it there).
  if (plan.seed !== undefined && api === 'chat_completions') providerData.seed = plan.seed;
  if (structure === 'json_object') {
    if (api === 'chat_completions') providerData.response_format = { type: 'json_object' };
    else providerData.text = { format: { type: 'json_object' } };
  }
  const agent = new Agent({
    name: 'replicate',
    instructions: fit(request.instructions ?? ''),
    model: request.model,
    ...(request.tools?.length ? { tools: request.tools } : {}),
    ...(structure === 'json_schema'
      ? { outputType: { type: 'json_schema' as const, name: 'output', strict: false, schema: sent as never } }
      : {}),
    modelSettings: {
      ...(plan.temperature !== undefined ? { temperature: plan.temperature } : {}),
      ...(request.maxOutputTokens !== undefined ? { maxTokens: request.maxOutputTokens } : {}),
      ...(Object.keys(providerData).length > 0 ? { providerData } : {}),
    },
  });
  return {
    agent: agent as unknown as CallAgent,
    fit,
    read(finalOutput) {
      let output: unknown = finalOutput;
      if (structure === 'json_object' || structure === 'prompt') output = parseJsonAnswer(output);
      if (wrapped && output !== null && typeof output === 'object' && !Array.isArray(output)) output = (output as Record<string, unknown>)[WRAP_KEY];
      return output;
    },
  };
}

/** The instructions with the schema the answer must follow appended (JSON mode also needs the word "JSON" in the prompt). */
export function withSchemaInstructions(instructions: string, schema: Record<string, unknown>): string {
  const ask = `Answer with only a JSON value (no prose, no code fence) that follows this JSON Schema:\n${JSON.stringify(schema)}`;
  return instructions === '' ? ask : `${instructions}\n\n${ask}`;
}

/**
 * A text answer read as JSON: the whole text, else the inside of a ```json
 * fence, else the text from its first `{`/`[` to its last `}`/`]`. A text
 * that holds no JSON stays text (and fails the schema check).
 */
export function parseJsonAnswer(answer: unknown): unknown {
  if (typeof answer !== 'string') return answer;
  const text = answer.trim();
  const fence = /```(?:json)?\s*([\s\S]*?)```/.exec(text)?.[1];
  const first = text.search(/[[{]/);
  const last = Math.max(text.lastIndexOf('}'), text.lastIndexOf(']'));
  const candidates = [text, fence, first >= 0 && last > first ? text.slice(first, last + 1) : undefined];
  for (const c of candidates) {
    if (c === undefined) continue;
    try {
      return JSON.parse(c) as unknown;
    } catch {
      // next candidate
    }
  }
  return answer;
}

/** The run input as Agents SDK items. */
export function toAgentInput(input: RunInput): string | AgentInputItem[] {
  if (typeof input === 'string') return input;
  return input.map((m): AgentInputItem => {
    if (m.role === 'assistant') {
      return { role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: m.content }] };
    }
    if (m.role === 'user') return { role: 'user', content: m.content };
    return { role: 'system', content: m.content };
  });
}

/** The Agents SDK's per-response usage, summed; total is input + output, as the contract counts it. */
export function sumUsage(parts: Array<{ inputTokens: number; outputTokens: number } | undefined>): Usage {
  return parts.reduce<Usage>((sum, p) => (p ? addUsage(sum, { input_tokens: p.inputTokens, output_tokens: p.outputTokens, total_tokens: p.inputTokens + p.outputTokens }) : sum), emptyUsage());
}
