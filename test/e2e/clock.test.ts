import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/lib/clock.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

/** A clock one hour ahead of the wall clock, so nothing stamped by it can be mistaken for real time. */
const HOUR = 3_600_000;
const ahead: Clock = { now: () => Date.now() + HOUR, precise: () => Date.now() + HOUR + 0.5 };

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ clock: ahead });
});
afterAll(() => svc.close());

describe('the clock given to buildApp', () => {
  it('stamps run records and events', async () => {
    const before = Date.now();
    const res = await fetch(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'what time is it?', replicates: 2 }) });
    const run = await res.json();
    expect(res.status).toBe(200);
    expect(Date.parse(run.created_at)).toBeGreaterThanOrEqual(before + HOUR);
    expect(Date.parse(run.completed_at)).toBeGreaterThanOrEqual(Date.parse(run.created_at));
    const events = await svc.store.readEvents(run.id, 0);
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(Date.parse(event.ts)).toBeGreaterThanOrEqual(before + HOUR);
  });
});
