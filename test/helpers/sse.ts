/** One parsed SSE frame. */
export interface SseFrame {
  id: string | null;
  event: string | null;
  data: any;
}

/** Everything an SSE response carried: frames plus comment lines (heartbeats). */
export interface SseCapture {
  status: number;
  headers: Headers;
  frames: SseFrame[];
  comments: string[];
}

/** One item of an SSE body: a frame (its data lines joined, as text) or a comment line. */
export type SseItem = { frame: { id: string | null; event: string | null; data: string } } | { comment: string };

/** The items of an SSE body, parsed per the HTML spec's line rules (frames end at a blank line; frames without data are skipped). */
export async function* sseItems(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseItem> {
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { id: string | null; event: string | null; data: string[] } = { id: null, event: null, data: [] };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (current.data.length > 0) yield { frame: { id: current.id, event: current.event, data: current.data.join('\n') } };
        current = { id: null, event: null, data: [] };
      } else if (line.startsWith(':')) yield { comment: line.slice(1) };
      else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') current.id = val;
        else if (field === 'event') current.event = val;
        else if (field === 'data') current.data.push(val);
      }
    }
  }
}

/**
 * Reads an SSE response to its end (or until `stopAfter` frames); frame data
 * is parsed as JSON where it is JSON. Aborting `signal` drops the connection.
 */
export async function readSse(res: Response, options: { stopAfter?: number; abort?: AbortController } = {}): Promise<SseCapture> {
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  if (!res.body) return { status: res.status, headers: res.headers, frames, comments };
  try {
    for await (const item of sseItems(res.body)) {
      if ('comment' in item) {
        comments.push(item.comment.trim());
        continue;
      }
      let data: unknown = item.frame.data;
      try {
        data = JSON.parse(item.frame.data);
      } catch {
        /* plain text data */
      }
      frames.push({ id: item.frame.id, event: item.frame.event, data });
      if (options.stopAfter !== undefined && frames.length >= options.stopAfter) {
        options.abort?.abort();
        break;
      }
    }
  } catch (error) {
    if (!options.abort?.signal.aborted) throw error;
  }
  return { status: res.status, headers: res.headers, frames, comments };
}

/** Opens an SSE stream with fetch. */
export async function openSse(url: string, init: RequestInit = {}, options: { stopAfter?: number } = {}): Promise<SseCapture> {
  const abort = new AbortController();
  const res = await fetch(url, { ...init, signal: abort.signal });
  return readSse(res, { ...options, abort });
}

/** Starts a run as an SSE stream (`POST /v1/runs` with `stream: true`) and reads it to the end. */
export function postStream(baseUrl: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<SseCapture> {
  return openSse(`${baseUrl}/v1/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
}
