import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import { ENTRY_OVERHEAD_BYTES } from '../../src/store/memoryIdempotency.ts';
import { collect } from '../helpers/gc.ts';
import { getJson, postJson, withService } from '../helpers/service.ts';
import { openSse } from '../helpers/sse.ts';

/** Polls a condition: the events tested here happen on sockets, not in promises the test holds. */
async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('bounded bytes', () => {
  it("counts each run's record and stored events at exactly their JSON lengths, whatever tool made them", async () => {
    await withService({ behavior: { answers: { kind: 'function', fn: ({ index }) => `answer ${index} "quoted" é\u2028` } } }, async (svc) => {
      const bodies = [
        { input: 'one', replicates: 1 },
        { input: 'three', replicates: 3 },
        { tool: 'triage', input: 'My order arrived broken!' },
        { tool: 'panel', input: 'Mail jane@example.com, she is delighted' },
      ];
      const ids: string[] = [];
      for (const body of bodies) {
        const res = await postJson(`${svc.url}/v1/runs`, body);
        expect(res.status).toBe(200);
        ids.push(res.body.id);
      }
      let expected = 0;
      for (const id of ids) {
        const record = await svc.store.getRun(id);
        const events = await svc.store.readEvents(id, 0);
        expect(events.at(-1)?.type).toBe('run_completed');
        expected += JSON.stringify(record).length + ENTRY_OVERHEAD_BYTES + events.reduce((n, e) => n + JSON.stringify(e).length, 0);
      }
      // The store bounds MAX_STORE_BYTES and MAX_EVENT_LOG_BYTES by this count: off by a byte per event, the bounds drift.
      expect((svc.store as MemoryStore).bytes.runs).toBe(expected);
    });
  });

  it('fails a replicate whose answer passes MAX_OUTPUT_BYTES with a provider_error naming the limit', async () => {
    await withService({ env: { MAX_OUTPUT_BYTES: '65536' }, behavior: { answers: { kind: 'fixed', value: 'x'.repeat(300_000) } } }, async (svc) => {
      const res = await postJson(`${svc.url}/v1/runs`, { input: 'write a lot', replicates: 2 });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('failed');
      for (const replicate of res.body.bundle.replicates) {
        expect(replicate.error).toMatchObject({ code: 'provider_error', retryable: false });
        expect(replicate.error.message).toContain('MAX_OUTPUT_BYTES');
      }
      // Not retried: the same prompt would bring the same oversized answer.
      expect(svc.sim.stats().received).toBe(2);
      svc.sim.configure({ answers: { kind: 'fixed', value: 'x'.repeat(60_000) } });
      expect((await postJson(`${svc.url}/v1/runs`, { input: 'write a little less', replicates: 1 })).body.status).toBe('succeeded');
    });
  });

  it("bounds a run's event log by MAX_EVENT_LOG_BYTES, and a follower still gets run_completed with the whole result", async () => {
    const limit = 256 * 1024;
    await withService({ env: { MAX_EVENT_LOG_BYTES: String(limit) }, behavior: { answers: { kind: 'function', fn: ({ index }) => `${index} ${'y'.repeat(20_000)}` } } }, async (svc) => {
      // The 163-byte request: 20 replicates of 20,000-character answers made a 6.8 MB log.
      const res = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 20, background: true });
      await until(async () => (await getJson(`${svc.url}/v1/runs/${res.body.id}`)).body.status === 'succeeded');
      const stored = await svc.store.readEvents(res.body.id, 0);
      const completed = stored.at(-1);
      expect(completed?.type).toBe('run_completed');
      const rest = stored.slice(0, -1).reduce((n, e) => n + JSON.stringify(e).length, 0);
      expect(rest).toBeLessThan(limit + 64 * 1024);
      expect(stored.filter((e) => e.type === 'replicate_done')).toHaveLength(20);
      expect(stored.some((e) => 'elided' in e && e.elided !== undefined)).toBe(true);
      const follower = await openSse(`${svc.url}/v1/runs/${res.body.id}/events`);
      const last = follower.frames.at(-1);
      expect(last?.event).toBe('run_completed');
      expect(last?.data.result.bundle.replicates).toHaveLength(20);
      for (const r of last?.data.result.bundle.replicates ?? []) expect(String(r.output)).toHaveLength(20_000 + String(r.output).indexOf(' ') + 1);
    });
  });

  it('keeps memory growth under MAX_UNSENT_BYTES_TOTAL with 30 never-reading SSE clients on a large event log; cut readers resume', async () => {
    const total = 8 * 1024 * 1024;
    const env = { MAX_EVENT_LOG_BYTES: String(64 * 1024 * 1024), MAX_UNSENT_BYTES_TOTAL: String(total), SSE_HEARTBEAT_MS: '60000' };
    const answer = ({ index }: { index: number }) => `${index} ${'z'.repeat(900_000)}`;
    await withService({ env, behavior: { answers: { kind: 'function', fn: answer } } }, async (svc) => {
      // 3.6 MB of replicate_done, as much again in bundle_ready and in run_completed: ~11 MB per stream,
      // in frames of ~1 MB and ~3.6 MB. Unbounded, 30 stuck readers held ~80 MB between them.
      const run = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 4 });
      expect(run.body.status).toBe('succeeded');
      const path = `/v1/runs/${run.body.id}/events`;
      // Weak: holding the responses would hold what they buffered, which is what is measured.
      const responses: Array<WeakRef<http.ServerResponse>> = [];
      let cut = 0;
      const server = svc.app.server;
      const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
        if (req.url !== path) return;
        responses.push(new WeakRef(res));
        res.once('close', () => {
          if (!res.writableFinished) cut++;
        });
      };
      server.on('request', onRequest);
      await collect();
      const before = process.memoryUsage();
      const { port } = server.address() as net.AddressInfo;
      const sockets: net.Socket[] = [];
      for (let i = 0; i < 30; i++) {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        // Never read: paused from the start, so the kernel buffers fill and the rest stays in the process.
        socket.pause();
        socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
        sockets.push(socket);
      }
      try {
        // Every stream has been cut, or waits for a reader that never comes (or, had it room, wrote all it had).
        await until(
          () =>
            responses.length === 30 &&
            responses.every((ref) => {
              const res = ref.deref();
              return res === undefined || res.destroyed || res.writableEnded || res.writableNeedDrain;
            }),
        );
        await collect();
        const after = process.memoryUsage();
        const growth = after.heapUsed + after.external - (before.heapUsed + before.external);
        // One frame (~3.6 MB) may go out past the bound; the rest is margin for the test's own allocations.
        expect(growth).toBeLessThan(total + 16 * 1024 * 1024);
        expect(cut).toBeGreaterThan(0);
        expect((await getJson(`${svc.url}/healthz`)).status).toBe(200);
        // A reader that was cut resumes where it was with Last-Event-ID.
        const resumed = await openSse(`${svc.url}${path}`, { headers: { 'last-event-id': '5' } }, { stopAfter: 1 });
        expect(resumed.status).toBe(200);
        expect(resumed.frames[0]?.id).toBe('6');
      } finally {
        server.off('request', onRequest);
        for (const socket of sockets) socket.destroy();
      }
    });
  }, 60_000); // 30 catch-ups of an 11 MB log on a shared CI machine
});
