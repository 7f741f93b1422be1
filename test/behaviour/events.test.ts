// The events stream: every state change of a job, in order, read with queue.events(); resuming
// from an event's id misses and repeats nothing (inside a batched entry too); a reader that fell
// behind the trimmed stream is told; eventsMaxLen 0 writes nothing.
import { EventsGapError, InvalidOptionError, Queue, Worker, type QueueEvent } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';
import { clientsNamed } from '../support/redis.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('events');
});
afterEach(async () => {
  await s.dispose();
});

/** Reads events from `from` until `until` returns true for the list so far. */
async function collect(q: Queue, from: string, until: (seen: QueueEvent[]) => boolean, timeoutMs = 10_000): Promise<QueueEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const seen: QueueEvent[] = [];
  try {
    for await (const e of q.events({ from, signal: ac.signal })) {
      seen.push(e);
      if (until(seen)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

const story = (events: QueueEvent[], id: string): string[] => events.filter((e) => e.jobId === id).map((e) => `${e.type}:${e.attempt}`);

describe('queue.events', () => {
  it("tells a job's life in order: added, started, failed, retried, started, completed", async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 }, { attempts: 3, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
    let runs = 0;
    s.trackWorker(new Worker(s.name, () => {
      if (++runs === 1) throw new Error('first run fails');
    }, { connection: s.url }));
    const seen = await collect(q, '0', (e) => e.some((x) => x.type === 'completed'));
    expect(story(seen, id)).toEqual(['added:0', 'started:1', 'failed:1', 'retried:1', 'started:2', 'completed:2']);
    expect(seen.every((e) => e.at > Date.now() - 60_000 && e.at <= Date.now())).toBe(true);
  });

  it('tells dead, replayed, cancelled and removed', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const doomed = await q.add({}, { attempts: 1 });
    const died = deferred();
    const w = s.trackWorker(new Worker(s.name, () => {
      throw new Error('no');
    }, { connection: s.url }));
    w.on('dead', () => died.resolve());
    await died.promise;
    await w.close(0);
    await q.dead.replay([doomed]);
    const waiting = await q.add({});
    expect(await q.cancel(waiting)).toBe('cancelled');
    const gone = await q.add({});
    expect(await q.remove(gone)).toBe(true);
    const seen = await collect(q, '0', (e) => e.some((x) => x.type === 'removed'));
    expect(story(seen, doomed)).toEqual(['added:0', 'started:1', 'failed:1', 'dead:1', 'replayed:0']);
    expect(story(seen, waiting)).toEqual(['added:0', 'cancelled:0']);
    expect(story(seen, gone)).toEqual(['added:0', 'removed:0']);
  });

  it('tells lease-expired when a lease is reclaimed', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({}, { attempts: 2, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
    const { jobs } = await s.lease(1, 100);
    expect(jobs.map((j) => j.id)).toEqual([id]);
    await s.waitLeaseExpired(id);
    await s.lease(1, 10_000);
    const seen = await collect(q, '0', (e) => e.filter((x) => x.type === 'started').length === 2);
    expect(story(seen, id)).toEqual(['added:0', 'started:1', 'lease-expired:1', 'retried:1', 'started:2']);
  });

  it('resumes right after any event, inside a batched entry too, missing and repeating nothing', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const ids = await q.addBulk(Array.from({ length: 50 }, (_, i) => ({ data: { i } }))); // one entry of 50 'added'
    const all = await collect(q, '0', (e) => e.length === 50);
    expect(all.map((e) => e.jobId)).toEqual(ids);
    expect(new Set(all.map((e) => e.id.split('/')[0])).size).toBe(1);
    for (const cut of [0, 17, 48]) {
      const rest = await collect(q, all[cut]!.id, (e) => e.length === 49 - cut);
      expect(rest.map((e) => e.jobId)).toEqual(ids.slice(cut + 1));
    }
    // from '$': only what comes after (the reader's connection is named, to see it block in XREAD)
    const named = s.track(new Queue(s.name, { connection: s.named('reader') }));
    const later = collect(named, '$', (e) => e.length === 1);
    await waitFor(async () => (await clientsNamed(s.admin, `${s.name}:reader`)).some((c) => c.cmd === 'xread'), 5000, 'the reader to block');
    const next = await q.add({ late: true });
    expect((await later).map((e) => `${e.type}:${e.jobId}`)).toEqual([`added:${next}`]);
  });

  it('throws EventsGapError for a reader that fell behind the trimmed stream', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.setPolicy({ eventsMaxLen: 10 });
    await q.add({});
    const [start] = await collect(q, '0', () => true);
    for (let i = 0; i < 300; i++) await q.add({ i }); // 300 entries: trimmed to about 10
    const err = await collect(q, start!.id, () => true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventsGapError);
  });

  it('writes nothing with eventsMaxLen 0, and refuses a bad from', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.setPolicy({ eventsMaxLen: 0 });
    const done = deferred();
    s.trackWorker(new Worker(s.name, () => done.resolve(), { connection: s.url }));
    await q.add({});
    await done.promise;
    await waitFor(async () => (await q.counts()).leased === 0, 5000, 'the ack');
    expect(await s.admin.exists(s.keys.events)).toBe(0);
    expect(() => q.events({ from: 'yesterday' })).toThrow(InvalidOptionError);
  });
});
