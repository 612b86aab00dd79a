import type { ParsedRequest } from './request.ts';

/**
 * OpenAI wire shapes. Streams are produced as ready-to-write SSE frames so
 * the server can send them in one write when there is no chunk delay.
 */

/** Token counts of one answer. */
export interface TokenUsage {
  input: number;
  output: number;
}

/** Identity of one answer, shared by all frames of a stream. */
export interface AnswerMeta {
  id: string;
  created: number;
  content: string;
  usage: TokenUsage;
  /** The model refuses: this text goes out as the refusal and `content` is empty. */
  refusal?: string | undefined;
  /** Set when the answer is a function call (a scripted turn) instead of content. */
  toolCall?: { id: string; name: string; arguments: string } | undefined;
}

const FINGERPRINT = 'fp_simulator';

/** OpenAI error envelope, so SDKs map it to their typed errors. */
export function errorBody(message: string, type: string, code: string | null): object {
  return { error: { message, type, param: null, code } };
}

/** Error type OpenAI uses for a status, which SDK error classes key on. */
export function errorTypeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** Splits content into a few deltas without cutting a surrogate pair in half. */
export function splitContent(content: string, pieces = 4): string[] {
  const n = Math.max(1, Math.min(pieces, content.length));
  const out: string[] = [];
  let start = 0;
  for (let i = 1; i <= n; i++) {
    let end = i === n ? content.length : Math.round((content.length * i) / n);
    const c = content.charCodeAt(end);
    if (end < content.length && c >= 0xdc00 && c <= 0xdfff) end++;
    if (end > start || i === n) out.push(content.slice(start, end));
    start = Math.max(start, end);
  }
  return out;
}

function chatUsage(u: TokenUsage): object {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

/** Non-streamed `chat.completion`. */
export function chatCompletion(req: ParsedRequest, a: AnswerMeta): object {
  return {
    id: a.id,
    object: 'chat.completion',
    created: a.created,
    model: req.model,
    system_fingerprint: FINGERPRINT,
    choices: [
      {
        index: 0,
        message:
          a.refusal !== undefined
            ? { role: 'assistant', content: null, refusal: a.refusal }
            : a.toolCall
              ? { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: a.toolCall.id, type: 'function', function: { name: a.toolCall.name, arguments: a.toolCall.arguments } }] }
              : { role: 'assistant', content: a.content, refusal: null },
        finish_reason: a.toolCall ? 'tool_calls' : 'stop',
        logprobs: null,
      },
    ],
    usage: chatUsage(a.usage),
  };
}

/** SSE frames of a streamed chat completion, `[DONE]` included. */
export function chatFrames(req: ParsedRequest, a: AnswerMeta): string[] {
  const head = `{"id":${JSON.stringify(a.id)},"object":"chat.completion.chunk","created":${a.created},"model":${JSON.stringify(req.model)},"system_fingerprint":"${FINGERPRINT}"`;
  const frame = (choices: string, usage = 'null') => `data: ${head},"choices":${choices},"usage":${usage}}\n\n`;
  const choice = (delta: object, finish: string | null) =>
    `[{"index":0,"delta":${JSON.stringify(delta)},"finish_reason":${JSON.stringify(finish)},"logprobs":null}]`;
  const call = a.toolCall;
  const frames = [frame(choice({ role: 'assistant', content: call ? null : '', refusal: null }, null))];
  if (a.refusal !== undefined) frames.push(frame(choice({ refusal: a.refusal }, null)));
  else if (call) {
    frames.push(frame(choice({ tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }, null)));
    for (const piece of splitContent(call.arguments)) frames.push(frame(choice({ tool_calls: [{ index: 0, function: { arguments: piece } }] }, null)));
  } else {
    for (const piece of splitContent(a.content)) frames.push(frame(choice({ content: piece }, null)));
  }
  frames.push(frame(choice({}, call ? 'tool_calls' : 'stop')));
  if (req.includeUsage) frames.push(frame('[]', JSON.stringify(chatUsage(a.usage))));
  frames.push('data: [DONE]\n\n');
  return frames;
}

function messageItem(a: AnswerMeta, status: 'in_progress' | 'completed', text: string | null): object {
  return {
    id: `msg_${a.id.slice(5)}`,
    type: 'message',
    status,
    role: 'assistant',
    content: text === null ? [] : a.refusal !== undefined ? [{ type: 'refusal', refusal: a.refusal }] : [{ type: 'output_text', text, annotations: [], logprobs: [] }],
  };
}

/** A Responses `function_call` output item. */
function functionCallItem(a: AnswerMeta, status: 'in_progress' | 'completed'): object {
  const call = a.toolCall as NonNullable<AnswerMeta['toolCall']>;
  return { id: `fc_${a.id.slice(5)}`, type: 'function_call', status, call_id: call.id, name: call.name, arguments: status === 'completed' ? call.arguments : '' };
}

/** Responses API `response` object; `completed` carries output and usage, `in_progress` neither. */
export function responseObject(req: ParsedRequest, a: AnswerMeta, status: 'in_progress' | 'completed'): object {
  const done = status === 'completed';
  return {
    id: a.id,
    object: 'response',
    created_at: a.created,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: req.instructions,
    max_output_tokens: null,
    model: req.model,
    output: done ? [a.toolCall ? functionCallItem(a, 'completed') : messageItem(a, 'completed', a.content)] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: false,
    temperature: 1,
    text: req.text ?? { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: done
      ? {
          input_tokens: a.usage.input,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: a.usage.output,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: a.usage.input + a.usage.output,
        }
      : null,
    user: null,
    metadata: {},
  };
}

/** SSE frames of a streamed Responses answer, in the order the real API emits them. */
export function responseFrames(req: ParsedRequest, a: AnswerMeta): string[] {
  const frames: string[] = [];
  let seq = 0;
  const emit = (type: string, payload: object) => {
    frames.push(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...payload })}\n\n`);
  };
  emit('response.created', { response: responseObject(req, a, 'in_progress') });
  emit('response.in_progress', { response: responseObject(req, a, 'in_progress') });
  if (a.toolCall) {
    const call = { item_id: `fc_${a.id.slice(5)}`, output_index: 0 };
    emit('response.output_item.added', { output_index: 0, item: functionCallItem(a, 'in_progress') });
    for (const delta of splitContent(a.toolCall.arguments)) emit('response.function_call_arguments.delta', { ...call, delta });
    emit('response.function_call_arguments.done', { ...call, name: a.toolCall.name, arguments: a.toolCall.arguments });
    emit('response.output_item.done', { output_index: 0, item: functionCallItem(a, 'completed') });
    emit('response.completed', { response: responseObject(req, a, 'completed') });
    return frames;
  }
  const item = { item_id: `msg_${a.id.slice(5)}`, output_index: 0 };
  const part = { ...item, content_index: 0 };
  emit('response.output_item.added', { output_index: 0, item: messageItem(a, 'in_progress', null) });
  if (a.refusal !== undefined) {
    emit('response.content_part.added', { ...part, part: { type: 'refusal', refusal: '' } });
    emit('response.refusal.delta', { ...part, delta: a.refusal });
    emit('response.refusal.done', { ...part, refusal: a.refusal });
    emit('response.content_part.done', { ...part, part: { type: 'refusal', refusal: a.refusal } });
  } else {
    emit('response.content_part.added', { ...part, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
    for (const delta of splitContent(a.content)) emit('response.output_text.delta', { ...part, delta, logprobs: [] });
    emit('response.output_text.done', { ...part, text: a.content, logprobs: [] });
    emit('response.content_part.done', { ...part, part: { type: 'output_text', text: a.content, annotations: [], logprobs: [] } });
  }
  emit('response.output_item.done', { output_index: 0, item: messageItem(a, 'completed', a.content) });
  emit('response.completed', { response: responseObject(req, a, 'completed') });
  return frames;
}

/** A small, stable model list for GET /v1/models. */
export function modelList(created: number): object {
  const ids = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-4.1', 'simulator'];
  return {
    object: 'list',
    data: ids.map((id) => ({ id, object: 'model', created, owned_by: 'simulator' })),
  };
}
