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

/**
 * Reads an SSE response to its end (or until `stopAfter` frames), parsing
 * frames per the HTML spec's line rules. Aborting `signal` drops the connection.
 */
export async function readSse(res: Response, options: { stopAfter?: number; abort?: AbortController } = {}): Promise<SseCapture> {
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  if (!res.body) return { status: res.status, headers: res.headers, frames, comments };
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { id: string | null; event: string | null; data: string[] } = { id: null, event: null, data: [] };
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (line === '') {
          if (current.data.length > 0) {
            const raw = current.data.join('\n');
            let data: unknown = raw;
            try {
              data = JSON.parse(raw);
            } catch {
              /* plain text data */
            }
            frames.push({ id: current.id, event: current.event, data });
            if (options.stopAfter !== undefined && frames.length >= options.stopAfter) {
              options.abort?.abort();
              return { status: res.status, headers: res.headers, frames, comments };
            }
          }
          current = { id: null, event: null, data: [] };
        } else if (line.startsWith(':')) comments.push(line.slice(1).trim());
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
