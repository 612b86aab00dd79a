import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';
import { openSse } from '../helpers/sse.ts';

/** The raw text of a stream, read to its end (the server closes it after run_completed). */
async function rawStream(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text() };
}

describe('how streams end (CONTRACT v1.1 "End of a stream")', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { SSE_RETRY_MS: '1234' } });
  });
  afterAll(async () => svc?.close());
  beforeEach(() => svc.sim.reset());

  it('opens with a retry hint, ends with run_completed, and the server closes it', async () => {
    const run = await postJson(`${svc.url}/v1/runs`, { input: 'q', replicates: 2 });
    const { status, text } = await rawStream(`${svc.url}/v1/runs/${run.body.id}/events`);
    expect(status).toBe(200);
    expect(text.startsWith('retry: 1234\n\n')).toBe(true);
    const frames = text.split('\n\n').filter((f) => f.startsWith('id: '));
    expect(frames.at(-1)).toMatch(/^id: \d+\nevent: run_completed\n/);
    // Nothing at all after the closing frame.
    expect(text.endsWith(`${frames.at(-1)}\n\n`)).toBe(true);
  });

  it('answers 204 to a reader of a finished run at or past its last seq, and invents no event', async () => {
    const run = await postJson(`${svc.url}/v1/runs`, { input: 'q', replicates: 2 });
    const all = await openSse(`${svc.url}/v1/runs/${run.body.id}/events`);
    const last = Number(all.frames.at(-1)?.id);
    for (const headers of [{ 'last-event-id': String(last) }, { 'last-event-id': '999' }]) {
      const res = await fetch(`${svc.url}/v1/runs/${run.body.id}/events`, { headers });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
    }
    for (const after of [last, 999]) expect((await fetch(`${svc.url}/v1/runs/${run.body.id}/events?after=${after}`)).status).toBe(204);
    // One short of the end still gets the closing event, with its real seq.
    const tail = await openSse(`${svc.url}/v1/runs/${run.body.id}/events?after=${last - 1}`);
    expect(tail.frames.map((f) => [f.id, f.event])).toEqual([[String(last), 'run_completed']]);
  });

  it('escapes raw U+2028 and U+2029 in event data, and the data still means the same', async () => {
    const answer = 'line\u2028separated\u2029paragraph';
    svc.sim.configure({ answers: { kind: 'fixed', value: answer } });
    const run = await postJson(`${svc.url}/v1/runs`, { input: 'q', replicates: 1 });
    expect(run.body.output).toBe(answer);
    const { text } = await rawStream(`${svc.url}/v1/runs/${run.body.id}/events`);
    expect(text).not.toMatch(/[\u2028\u2029]/);
    expect(text).toContain('line\\u2028separated\\u2029paragraph');
    const frames = await openSse(`${svc.url}/v1/runs/${run.body.id}/events`);
    expect(frames.frames.at(-1)?.data.result.output).toBe(answer);
  });

  it('puts the stream token of a streamed POST in the Stream-Token header, good for that run\'s events', async () => {
    const res = await fetch(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'q', replicates: 1, stream: true }) });
    const token = res.headers.get('stream-token');
    const text = await res.text();
    expect(token).toBeTruthy();
    expect(text).not.toContain(token as string);
    const id = /"run_id":"([^"]+)"/.exec(text)?.[1] as string;
    const again = await openSse(`${svc.url}/v1/runs/${id}/events?stream_token=${encodeURIComponent(token as string)}`);
    expect(again.frames.at(-1)?.event).toBe('run_completed');
  });
});

describe('GET /v1/runs (CONTRACT v1.1 "Finding runs")', () => {
  let svc: TestService;
  const alice = { authorization: 'Bearer key-alice' };
  const bob = { authorization: 'Bearer key-bob' };
  beforeAll(async () => {
    svc = await startTestService({ env: { API_KEYS: 'key-alice,key-bob' } });
  });
  afterAll(async () => svc?.close());

  it('lists only the caller\'s runs, newest first, filtered, page by page', async () => {
    const ids: string[] = [];
    for (const [i, tool] of ['bundle', 'sentiment', 'bundle'].entries()) {
      const run = await postJson(`${svc.url}/v1/runs`, { tool, input: `alice ${i}`, replicates: 1 }, alice);
      expect(run.status).toBe(200);
      ids.unshift(run.body.id);
    }
    const bobs = await postJson(`${svc.url}/v1/runs`, { input: 'bob', replicates: 1 }, bob);

    const list = await getJson(`${svc.url}/v1/runs`, alice);
    expect(list.status).toBe(200);
    expect(list.body.object).toBe('list');
    expect(list.body.data.map((r: { id: string }) => r.id)).toEqual(ids);
    expect(list.body.data[0]).not.toHaveProperty('bundle');
    expect(list.body.next_cursor).toBeNull();
    expect((await getJson(`${svc.url}/v1/runs`, bob)).body.data.map((r: { id: string }) => r.id)).toEqual([bobs.body.id]);

    const first = await getJson(`${svc.url}/v1/runs?limit=2`, alice);
    expect(first.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(0, 2));
    const second = await getJson(`${svc.url}/v1/runs?limit=2&after=${first.body.next_cursor}`, alice);
    expect(second.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(2));
    expect(second.body.next_cursor).toBeNull();

    expect((await getJson(`${svc.url}/v1/runs?tool=sentiment`, alice)).body.data).toHaveLength(1);
    expect((await getJson(`${svc.url}/v1/runs?status=failed`, alice)).body.data).toHaveLength(0);
  });

  it('refuses bad filters with a clear 400, and a stream token for another tenant\'s run', async () => {
    for (const query of ['status=done', 'limit=0', 'limit=1000', 'after=%%%', 'colour=red']) {
      const res = await getJson(`${svc.url}/v1/runs?${query}`, alice);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    const bobs = await postJson(`${svc.url}/v1/runs`, { input: 'bob', replicates: 1 }, bob);
    const minted = await postJson(`${svc.url}/v1/runs/${bobs.body.id}/stream_token`, '', alice);
    expect(minted.status).toBe(404);
    expect((await getJson(`${svc.url}/v1/runs`)).status).toBe(401);
  });
});
