import {
  MaxTurnsExceededError,
  ModelRefusalError,
  NoopTrace,
  withTrace,
  type Agent,
  type AgentInputItem,
  type AgentOutputType,
  type Model,
  type ModelResponse,
} from '@openai/agents-core';

/**
 * Which layer of the OpenAI Agents SDK answers a call: `model` is the SDK's
 * model layer (`Model.getResponse`, one request, one answer), `runner` its
 * `Runner.run` (the agent loop: tools, handoffs, guardrails). Both are the
 * Agents SDK (`runtime: "openai_agents"` on results); which one is internal.
 */
export type SdkPath = 'model' | 'runner';

/** What the gateway reads from an answer, whichever layer gave it (a `RunResult` has the same two). */
export interface SdkAnswer {
  finalOutput: unknown;
  rawResponses: ModelResponse[];
}

/**
 * The model layer for an agent with nothing for the Runner's loop to do:
 * no tools, no handoffs, no guardrails, no MCP servers. `Runner.run` on such
 * an agent with `maxTurns: 1` makes one model request and turns its answer
 * into the final output; its own bookkeeping around that request (run
 * state, session persistence, input copies) cost ~0.2 ms and ~28 KiB per
 * call in flight (BENCHMARKS.md), which a single turn does not need.
 */
export function sdkPathOf<O extends AgentOutputType>(agent: Agent<unknown, O>): SdkPath {
  const plain =
    agent.tools.length === 0 &&
    agent.handoffs.length === 0 &&
    agent.inputGuardrails.length === 0 &&
    agent.outputGuardrails.length === 0 &&
    agent.mcpServers.length === 0 &&
    agent.prompt === undefined;
  return plain ? 'model' : 'runner';
}

/**
 * One turn of `agent` on the SDK's model layer, with the Runner's rules for
 * the final output of a one-turn run: the text of the answer's last message
 * (for a structured output type, parsed by the agent as the Runner does),
 * a refusal without text raises `ModelRefusalError`, and an answer with no
 * final output raises what `maxTurns: 1` would (`MaxTurnsExceededError`),
 * so errors map the same way on both paths (`errorMap.ts`).
 */
export async function singleTurn<O extends AgentOutputType>(
  model: Model,
  agent: Agent<unknown, O>,
  input: string | AgentInputItem[],
  signal: AbortSignal,
): Promise<SdkAnswer> {
  // The model layer opens a (no-op) generation span, which needs a trace in context: a disabled one, as the Runner's with tracing off.
  const response = await withTrace(new NoopTrace(), () =>
    model.getResponse({
    systemInstructions: typeof agent.instructions === 'string' ? agent.instructions : undefined,
    input,
    modelSettings: agent.modelSettings,
    tools: [],
    toolsExplicitlyProvided: false,
    // A JSON-schema output type is already in its serialized form (`{type: 'json_schema', …}`).
    outputType: agent.outputType as 'text',
    handoffs: [],
      tracing: false,
      signal,
    }),
  );
  const text = finalText(response);
  if (text === undefined || (agent.outputType !== 'text' && text === '')) {
    const refusal = text === undefined ? joined(lastMessage(response), 'refusal') : undefined;
    if (refusal !== undefined) throw new ModelRefusalError(refusal);
    // The Runner asks again for a missing final output, which a one-turn run may not.
    throw new MaxTurnsExceededError('Max turns (1) exceeded');
  }
  return { finalOutput: agent.processFinalOutput(text), rawResponses: [response] };
}

type OutputItem = ModelResponse['output'][number];
type Content = { type: string; text?: string; refusal?: string };

function isAssistantMessage(item: OutputItem | undefined): item is OutputItem & { content: Content[] } {
  return item !== undefined && item.type === 'message' && item.role === 'assistant';
}

function lastMessage(response: ModelResponse): OutputItem | undefined {
  return response.output.findLast((item) => isAssistantMessage(item));
}

/** The `output_text` (or `refusal`) parts of an assistant message, joined; undefined when it has none (agents-core `getTextFromOutputMessage`). */
function joined(item: OutputItem | undefined, type: 'output_text' | 'refusal'): string | undefined {
  if (!isAssistantMessage(item)) return undefined;
  const parts = item.content.filter((c) => c.type === type);
  return parts.length === 0 ? undefined : parts.map((c) => (type === 'refusal' ? c.refusal : c.text) ?? '').join('');
}

/**
 * The Runner's final text of a one-turn answer (agents-core
 * `turnResolution.mjs`): undefined when the last assistant message has no
 * text; else the text of the answer's last item, or of every message when
 * reasoning items segment the answer, falling back to the last message's.
 */
function finalText(response: ModelResponse): string | undefined {
  const lastText = joined(lastMessage(response), 'output_text');
  if (lastText === undefined) return undefined;
  const { output } = response;
  const segmented = output.some((item) => item.type === 'reasoning') && output.every((item) => item.type === 'message' || item.type === 'reasoning');
  const text = segmented ? output.map((item) => joined(item, 'output_text') ?? '').join('') : (joined(output.at(-1), 'output_text') ?? '');
  return text || lastText;
}
