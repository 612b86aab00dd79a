/**
 * Reads the few things the simulator needs out of a Chat Completions or
 * Responses request body, tolerating anything odd: the simulator answers
 * whatever it is sent rather than re-implementing OpenAI's validation.
 */

/** Which OpenAI API a model request came through. */
export type ApiKind = 'chat' | 'responses' | 'embeddings';

/** Structured-output mode asked for by the client. */
export type JsonMode = 'schema' | 'object' | null;

/** The request as the answer and wire layers see it. */
export interface ParsedRequest {
  api: ApiKind;
  model: string;
  seed: number | null;
  /** Last user message: what answers are keyed on. */
  prompt: string;
  /** Length of all prompt text (instructions, every message) for the token estimate. */
  promptChars: number;
  jsonMode: JsonMode;
  schema: unknown;
  stream: boolean;
  includeUsage: boolean;
  /** Responses API echoes these back in the response object. */
  instructions: unknown;
  text: unknown;
  /** Names of the function tools the request offers (empty when none). */
  toolNames?: string[];
  /** Tool results already in the conversation: how many tool calls were answered. */
  toolResults?: number;
  /** Embeddings: the texts to embed, and how the vectors are encoded. */
  inputs?: string[];
  encodingFormat?: 'float' | 'base64';
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of a message content: a string or an array of text-bearing parts. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (isObj(part) && typeof part.text === 'string') out += (out ? '\n' : '') + part.text;
  }
  return out;
}

function collect(messages: unknown[]): { prompt: string; chars: number } {
  let chars = 0;
  let lastUser: string | undefined;
  let last = '';
  for (const m of messages) {
    if (!isObj(m)) continue;
    const text = contentText(m.content) || (typeof m.output === 'string' ? m.output : '');
    chars += text.length;
    last = text;
    if (m.role === 'user') lastUser = text;
  }
  return { prompt: lastUser ?? last, chars };
}

function formatOf(format: unknown): { jsonMode: JsonMode; schema: unknown } {
  if (!isObj(format)) return { jsonMode: null, schema: null };
  if (format.type === 'json_object') return { jsonMode: 'object', schema: null };
  if (format.type !== 'json_schema') return { jsonMode: null, schema: null };
  // Chat nests the schema under json_schema; Responses puts it on the format itself.
  const schema = isObj(format.json_schema) ? format.json_schema.schema : format.schema;
  return { jsonMode: 'schema', schema: schema ?? {} };
}

/** Integer seed from the body, the only kind OpenAI accepts. */
export function seedOf(body: unknown): number | null {
  const seed = isObj(body) ? body.seed : undefined;
  return typeof seed === 'number' && Number.isInteger(seed) ? seed : null;
}

/** Function tool names offered by a Chat (`{function: {name}}`) or Responses (`{name}`) request. */
function toolNamesOf(tools: unknown): string[] {
  if (!Array.isArray(tools)) return [];
  const names: string[] = [];
  for (const t of tools) {
    if (!isObj(t)) continue;
    const name = isObj(t.function) ? t.function.name : t.name;
    if (typeof name === 'string') names.push(name);
  }
  return names;
}

/** Tool results in a conversation: chat `tool` messages, Responses `function_call_output` items. */
function toolResultsOf(items: unknown): number {
  if (!Array.isArray(items)) return 0;
  return items.filter((m) => isObj(m) && (m.role === 'tool' || m.type === 'function_call_output')).length;
}

/** Extracts prompt, schema, seed and streaming flags from a parsed JSON body. */
export function parseModelRequest(api: ApiKind, body: unknown): ParsedRequest {
  const b: Obj = isObj(body) ? body : {};
  const model = typeof b.model === 'string' ? b.model : '';
  const stream = b.stream === true;
  if (api === 'embeddings') {
    const inputs = typeof b.input === 'string' ? [b.input] : Array.isArray(b.input) ? b.input.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [];
    return {
      api, model, seed: null, prompt: inputs.join('\n'), promptChars: inputs.reduce((a, t) => a + t.length, 0), stream: false,
      includeUsage: false, jsonMode: null, schema: null, instructions: null, text: null,
      inputs, encodingFormat: b.encoding_format === 'base64' ? 'base64' : 'float',
    };
  }
  if (api === 'chat') {
    const { prompt, chars } = collect(Array.isArray(b.messages) ? b.messages : []);
    const streamOptions = isObj(b.stream_options) ? b.stream_options : {};
    return {
      api, model, seed: seedOf(b), prompt, promptChars: chars, stream,
      includeUsage: stream && streamOptions.include_usage === true,
      ...formatOf(b.response_format),
      instructions: null, text: null,
      toolNames: toolNamesOf(b.tools), toolResults: toolResultsOf(b.messages),
    };
  }
  const instructions = typeof b.instructions === 'string' ? b.instructions : '';
  let prompt: string;
  let chars: number;
  if (typeof b.input === 'string') {
    prompt = b.input;
    chars = b.input.length;
  } else {
    ({ prompt, chars } = collect(Array.isArray(b.input) ? b.input : []));
  }
  const text = isObj(b.text) ? b.text : null;
  return {
    api, model, seed: seedOf(b), prompt, promptChars: chars + instructions.length, stream,
    includeUsage: stream,
    ...formatOf(text?.format),
    instructions: b.instructions ?? null, text,
    toolNames: toolNamesOf(b.tools), toolResults: toolResultsOf(b.input),
  };
}
