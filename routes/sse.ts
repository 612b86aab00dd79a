import type { FastifyReply } from 'fastify';
import { RunFollower } from '../src/runs/eventFeed.ts';
import type { RunEvent } from '../src/schemas/events.ts';
import type { Store } from '../src/store/types.ts';
import { UnsentBudget } from '../src/lib/unsentBudget.ts';

/** The SSE side of the run routes: frames, following a run into a reply, serving a stream. */

/** The SSE frame of an event: `id` is its seq, `event` its type. */
export function frame(event: RunEvent) {
  return { id: String(event.seq), event: event.type, data: event };
}

/** Bytes a reader may leave unsent before its stream is closed; it resumes with Last-Event-ID. */
export const MAX_UNSENT_BYTES = 8 * 1024 * 1024;

/** A follower of one reply; `drained` settles once every delivered frame was written (or the stream was cut). */
export type ReplyFollower = RunFollower & { drained(): Promise<void> };

/**
 * Follows a run for one SSE reply: each event is written to the socket as
 * the run emits it (headers go out with the first frame).
 *
 * Writes follow the socket's backpressure: while it needs draining, events
 * wait in order as references (the store holds the same objects), and are
 * serialized only when the socket takes more — so catching up on a large
 * log holds about one frame per reader, not the whole log. A reader that
 * still leaves too much unsent (its own bound), or is the one holding the
 * most when all streams together hold too much (the budget's total), is cut
 * off — its connection destroyed, which frees what it left unsent — and
 * resumes with Last-Event-ID.
 */
export function followInto(store: Store, reply: FastifyReply, runId: string, after: number, budget: UnsentBudget | number = MAX_UNSENT_BYTES): ReplyFollower {
  const bytes = typeof budget === 'number' ? new UnsentBudget(budget) : budget;
  const pending: RunEvent[] = [];
  let cut = false;
  let onDrained: (() => void) | null = null;
  const slot = bytes.register({
    get writableLength() {
      return reply.raw.writableLength;
    },
    cut: () => {
      cut = true;
      pending.length = 0;
      follower.close();
      reply.raw.destroy?.();
      onDrained?.();
    },
  });
  const write = (event: RunEvent): void => {
    if (!slot.mayWrite()) return;
    // The frame is written synchronously; a closed connection only rejects, and its close ends the follower.
    reply.sse.send(frame(event)).catch(() => follower.close());
    // The slot stays until the socket closes: an ended stream's unsent tail still counts.
    slot.wrote();
  };
  const flush = (): void => {
    while (pending.length > 0 && !cut && !reply.raw.writableNeedDrain) write(pending.shift() as RunEvent);
    // Node corks the socket on a response's write until the next tick, which
    // runs only after every microtask queued meanwhile — the run's own work.
    // Uncork now so the frame leaves with the emit.
    if (reply.raw.socket?.writableCorked) reply.raw.socket.uncork();
    if (pending.length === 0 || cut) onDrained?.();
  };
  const follower = new RunFollower(store, runId, after, (event) => {
    pending.push(event);
    flush();
  }) as ReplyFollower;
  follower.drained = () =>
    pending.length === 0 || cut
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          onDrained = resolve;
        });
  reply.raw.on?.('drain', flush);
  reply.raw.once?.('close', () => {
    slot.close();
    pending.length = 0;
    onDrained?.();
  });
  return follower;
}

/**
 * Keeps the stream open until `run_completed`, with `: ping` comments while
 * idle (the contract's heartbeat). A client that goes away stops only its
 * own stream.
 */
export async function serveStream(
  reply: FastifyReply,
  follower: ReplyFollower,
  heartbeatMs: number,
  slot: StreamSlot,
  redactEvent: (event: RunEvent) => RunEvent,
  retryMs: number,
): Promise<void> {
  reply.raw.once('close', slot.release);
  const stop = new AbortController();
  reply.sse.sendHeaders();
  // A field-only frame: it sets the reconnection delay and dispatches no event.
  reply.raw.write(`retry: ${retryMs}\n\n`);
  const heartbeat = setInterval(() => {
    if (!reply.raw.writableEnded) reply.raw.write(': ping\n\n');
  }, heartbeatMs);
  reply.sse.onClose(() => {
    clearInterval(heartbeat);
    stop.abort();
  });
  try {
    await follower.finished(stop.signal, redactEvent);
    // The closing frames may still wait for the socket to take them; the stream ends after they are written.
    await follower.drained();
  } finally {
    clearInterval(heartbeat);
    follower.close();
  }
}

/** An open-stream slot, taken before any await; released once (by the stream's close, or by the request that failed). */
export interface StreamSlot {
  release: () => void;
}

