import { valueForSchema, sentence } from './generate.ts';
import { mulberry32, pickWeighted, rngFor, type Rng } from './prng.ts';
import type { ParsedRequest } from './request.ts';
import type { AnswerSpec, ScriptedToolCall } from './types.ts';

/** The answer value of a scripted tool-call turn: the wire layer sends it as a function call, not as content. */
export class ToolCallAnswer {
  readonly name: string;
  /** JSON-encoded arguments, as the OpenAI APIs carry them. */
  readonly arguments: string;

  constructor(call: ScriptedToolCall) {
    this.name = call.name;
    this.arguments = typeof call.arguments === 'string' ? call.arguments : (JSON.stringify(call.arguments ?? {}) ?? '{}');
  }
}

/**
 * Randomness for one answer: derived from (seed, prompt) when the client
 * pinned a seed, so reruns reproduce; otherwise drawn from the simulator's
 * own PRNG, so unseeded requests vary like a sampling model but a whole run
 * is still reproducible from the simulator seed.
 */
export function requestRng(req: ParsedRequest, simRng: Rng): Rng {
  return req.seed !== null ? rngFor(req.seed, req.prompt) : mulberry32(Math.floor(simRng() * 4294967296));
}

function auto(req: ParsedRequest, rng: Rng): unknown {
  if (req.jsonMode === 'schema') return valueForSchema(req.schema, rng);
  if (req.jsonMode === 'object') return { answer: sentence(req.prompt, rng) };
  return sentence(req.prompt, rng);
}

/**
 * Chooses the answer value for a request. `index` counts answered requests
 * since the spec was set; only `sequence` and `function` care about it.
 */
export function chooseAnswer(spec: AnswerSpec, req: ParsedRequest, index: number, simRng: Rng): unknown {
  switch (spec.kind) {
    case 'auto':
      return auto(req, requestRng(req, simRng));
    case 'fixed':
      return spec.value;
    case 'sequence':
      return spec.values[index % spec.values.length];
    case 'distribution':
      return pickWeighted(requestRng(req, simRng), spec.values).value;
    case 'byPrompt': {
      const rule = spec.rules.find((r) => req.prompt.includes(r.match));
      if (rule) return pickWeighted(requestRng(req, simRng), rule.values).value;
      return chooseAnswer(spec.fallback ?? { kind: 'auto' }, req, index, simRng);
    }
    case 'script': {
      const offered = (req.toolNames?.length ?? 0) > 0;
      const turn = offered || spec.when === 'always' ? spec.turns[req.toolResults ?? 0] : undefined;
      if (turn === undefined) return chooseAnswer(spec.fallback ?? { kind: 'auto' }, req, index, simRng);
      if ('tool_call' in turn) return new ToolCallAnswer(turn.tool_call);
      return 'text' in turn ? turn.text : turn.value;
    }
    case 'function':
      return spec.fn({
        seed: req.seed,
        prompt: req.prompt,
        model: req.model,
        index,
        schema: req.jsonMode === 'schema' ? req.schema : null,
      });
  }
}

/** Message content for an answer value: strings verbatim, anything else as JSON. */
export function answerContent(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? 'null';
}

/** ceil(chars/4), at least 1: close enough to a tokenizer for cost accounting in tests. */
export function estimateTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}
