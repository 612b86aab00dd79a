/**
 * Public types of the embedded OpenAI-compatible simulator. Kept apart from
 * the server so callers (tests, benchmarks, the service's provider wiring)
 * can import them without pulling in `node:http`.
 */

/**
 * Delay before answering: a fixed number of ms, a seeded uniform jitter
 * range, or a sequence (the i-th request since configure/reset waits
 * sequence[i % n]: answers that arrive one by one, deterministically).
 */
export type Latency = number | { min: number; max: number } | { sequence: number[] };

/** One candidate answer with its sampling weight (weights need not sum to 1). */
export interface WeightedValue {
  value: unknown;
  weight: number;
}

/** What a `function` answer spec receives to decide its answer. */
export interface AnswerContext {
  /** Integer `seed` from the request body, or null when the client sent none. */
  seed: number | null;
  /** Text of the last user message (the "question"). */
  prompt: string;
  /** Model name echoed from the request. */
  model: string;
  /** 0-based count of answered requests since the answer spec was last set. */
  index: number;
  /** JSON schema requested via response_format / text.format, or null. */
  schema: unknown;
}

/** In-process answer callback; not expressible over the HTTP control endpoint. */
export type AnswerFn = (ctx: AnswerContext) => unknown;

/** Per-question distribution used by `byPrompt` answers. */
export interface PromptRule {
  /** Substring looked for in the last user message; first matching rule wins. */
  match: string;
  values: WeightedValue[];
}

/** A function call the simulated model makes: `arguments` is JSON-encoded unless already a string. */
export interface ScriptedToolCall {
  name: string;
  arguments?: unknown;
}

/**
 * One turn of a `script` answer: a tool (function) call, or a final answer
 * (`text` verbatim, `value` JSON-encoded like any other answer value).
 */
export type ScriptTurn = { tool_call: ScriptedToolCall } | { text: string } | { value: unknown };

/**
 * How the simulator picks the content of a normal (non-fault) answer.
 * Non-string values are JSON-encoded into the message content.
 */
export type AnswerSpec =
  /**
   * Agent turns: turn k answers a request whose conversation already holds
   * k tool results (chat `tool` messages, Responses `function_call_output`
   * items), so concurrent conversations each follow the script. Applies to
   * requests that offer tools (`when: 'tools'`, the default) or to all
   * (`'always'`); others, and turns past the end, get `fallback` (`auto`).
   */
  | { kind: 'script'; turns: ScriptTurn[]; when?: 'tools' | 'always' | undefined; fallback?: AnswerSpec | undefined }
  | { kind: 'auto' }
  | { kind: 'fixed'; value: unknown }
  | { kind: 'sequence'; values: unknown[] }
  | { kind: 'distribution'; values: WeightedValue[] }
  | { kind: 'byPrompt'; rules: PromptRule[]; fallback?: AnswerSpec | undefined }
  | { kind: 'function'; fn: AnswerFn };

/** One scripted outcome, consumed per incoming model request. */
export type FaultSpec =
  | {
      type: 'status';
      status: number;
      headers?: Record<string, string> | undefined;
      /** Response body; defaults to an OpenAI-style error. Strings are sent verbatim. */
      body?: unknown;
    }
  | { type: 'hang' }
  | { type: 'reset' }
  | { type: 'malformed' }
  /** A 200 in which the model refuses: `refusal` instead of content (Chat Completions), a refusal content part (Responses). */
  | { type: 'refusal'; refusal?: string | undefined }
  | { type: 'ok' };

/** Random failures applied once the fault script is exhausted. */
export interface FaultRate {
  probability: number;
  status: number;
}

/** Fixed token counts; missing fields fall back to the ceil(chars/4) estimate. */
export interface UsageOverride {
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
}

/** Everything that shapes how the simulator answers. */
export interface SimulatorBehavior {
  latencyMs: Latency;
  answers: AnswerSpec;
  usage: UsageOverride;
  faults: FaultSpec[];
  faultRate: FaultRate;
  streamChunkDelayMs: number;
}

/** Lifecycle of a recorded request; `pending` until it is answered or dropped. */
export type RequestOutcome = 'completed' | 'aborted' | 'fault' | 'pending';

/** A model request as the simulator saw it; mutated in place as it progresses. */
export interface RecordedRequest {
  path: string;
  method: string;
  /** Lowercased header names; the authorization value is redacted. */
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  seed: number | null;
  model: string;
  receivedAt: number;
  status: number | null;
  outcome: RequestOutcome;
}

/** Counters over model requests (control endpoints and 404s are not counted). */
export interface SimulatorStats {
  received: number;
  completed: number;
  aborted: number;
  inFlight: number;
  maxInFlight: number;
  /** Requests answered by a fault (status, reset, malformed). */
  failed: number;
}

/** Options for {@link startSimulator}. */
export interface SimulatorOptions {
  host?: string;
  port?: number;
  /** Startup behavior; `reset()` returns to it rather than to the bare defaults. */
  behavior?: Partial<SimulatorBehavior>;
  /** Seed of the simulator PRNG used for requests without a `seed` and for jitter. */
  seed?: number;
  maxRecorded?: number;
  /**
   * Serve the `/_simulator/*` control endpoints (config, reset, stats and
   * `/requests`, which shows every recorded prompt). Default `true`, for
   * tests and benchmarks that start a simulator of their own; the service's
   * embedded simulator passes SIMULATOR_CONTROL (default `false`), so they
   * never exist on a production configuration unless an operator asks.
   * The in-process handle (`configure`, `requests`…) works either way.
   */
  control?: boolean;
}

/** Handle on a running simulator. */
export interface Simulator {
  /** Base URL for the SDKs, e.g. `http://127.0.0.1:PORT/v1`. */
  readonly url: string;
  /** Validates and merges into the current behavior; throws SimulatorConfigError. */
  configure(b: Partial<SimulatorBehavior>): void;
  /** Startup behavior, PRNG, stats, recordings and fault queue back to the start. */
  reset(): void;
  stats(): SimulatorStats;
  /** Ring buffer of model requests, newest last. */
  readonly requests: readonly RecordedRequest[];
  /** Latency and chunk-delay timers still pending (0 once every request has finished or aborted). */
  pendingTimers(): number;
  /** Resolves once no model request is in flight. */
  waitForIdle(): Promise<void>;
  /** Closes the server and every socket. */
  close(): Promise<void>;
}
