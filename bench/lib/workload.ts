/** The request every scenario sends, so figures are comparable across scenarios. */

export const PROMPT = 'What is the capital of France?';
export const ANSWER = 'Paris is the capital of France.';
export const MODEL = 'gpt-4o-mini';
/** The simulator needs no key; the SDK insists on one. Never a real key. */
export const API_KEY = 'sk-bench-not-a-key';

/**
 * `POST /v1/runs` body. The tool is pinned to `bundle`: left to the planner,
 * a short question is routed to the `answer` tool, which adds a synthesis
 * call after the replicates (two sequential model calls per run).
 */
export function runBody(replicates: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { tool: 'bundle', input: PROMPT, replicates, ...extra };
}

/** The same call made directly with the openai SDK. */
export const chatBody = { model: MODEL, messages: [{ role: 'user' as const, content: PROMPT }] };
