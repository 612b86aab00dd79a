import type { FastifyReply } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { followInto } from '../../routes/sse.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { makeRun, testLimits, toolStarted } from '../store/fixtures.ts';

/** The parts of a reply the SSE follower touches: frames sent, bytes the socket has not taken yet, cork state. */
function replyDouble() {
  const sent: Array<{ id: string; event: string }> = [];
  const socket = { writableCorked: 0, uncork() { this.writableCorked = 0; } };
  const raw = { writableLength: 0, socket };
  const reply = {
    raw,
    sse: {
      send(frame: { id: string; event: string }) {
        sent.push(frame);
        socket.writableCorked = 1; // as Node does on a response's write
        return Promise.resolve();
      },
    },
  };
  return { reply: reply as unknown as FastifyReply, sent, raw, socket };
}

describe('SSE follower of a reply', () => {
  const stores: MemoryStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('writes each frame inside the emit and leaves the socket uncorked', async () => {
    const store = new MemoryStore(testLimits());
    stores.push(store);
    const run = makeRun();
    await store.saveRun(run);
    const { reply, sent, socket } = replyDouble();
    const follower = followInto(store, reply, run.id, 0);
    store.appendEvent(toolStarted(run.id, 1));
    expect(sent.map((f) => f.id)).toEqual(['1']);
    expect(socket.writableCorked).toBe(0);
    follower.close();
  });

  it('cuts off a reader that leaves too much unsent instead of buffering without bound', async () => {
    const store = new MemoryStore(testLimits());
    stores.push(store);
    const run = makeRun();
    await store.saveRun(run);
    const { reply, sent, raw } = replyDouble();
    const follower = followInto(store, reply, run.id, 0, 1024);
    store.appendEvent(toolStarted(run.id, 1));
    raw.writableLength = 4096; // the client stopped reading
    store.appendEvent(toolStarted(run.id, 2));
    store.appendEvent(toolStarted(run.id, 3));
    expect(sent.map((f) => f.id)).toEqual(['1']);
    expect(follower.ended).toBe(true);
  });
});
