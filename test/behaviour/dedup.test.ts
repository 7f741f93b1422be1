// Deduplication: `dedup: { key, mode, ttlMs }`. until-complete holds the key while the job
// lives; window holds it for ttlMs from the first add whatever happens to the job; debounce
// runs the job ttlMs after the last add, each add replacing its data. add() says whether it
// was deduplicated and returns the holder's id.
import { Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('dedup');
});
afterEach(async () => {
  await s.dispose();
});

describe('dedup until-complete', () => {
  it('makes one job while it waits or runs; after it completes (or dies) the key is free again', async () => {
    const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
    const first = await q.add({ n: 1 }, { dedup: { key: 'welcome:7' } });
    expect(first).toEqual({ id: expect.any(String), deduplicated: false });
    expect(await q.add({ n: 2 }, { dedup: { key: 'welcome:7' } })).toEqual({ id: first.id, deduplicated: true });
    expect(await q.counts()).toMatchObject({ ready: 1 });
    expect((await q.getJob(first.id))?.data).toEqual({ n: 1 });

    const gate = deferred();
    const started = deferred();
    const completed: string[] = [];
    const w = s.trackWorker(new Worker<{ n: number }>(s.name, async (job) => {
      started.resolve();
      if (job.data.n === 1) await gate.promise;
    }, { connection: s.url }));
    w.on('completed', (job) => completed.push(job.id));
    await started.promise;
    // running: still held
    expect(await q.add({ n: 3 }, { dedup: { key: 'welcome:7' } })).toEqual({ id: first.id, deduplicated: true });
    gate.resolve();
    await waitFor(() => completed.length === 1, 3000, 'the job to complete');
    const again = await q.add({ n: 4 }, { dedup: { key: 'welcome:7' } });
    expect(again.deduplicated).toBe(false);
    expect(again.id).not.toBe(first.id);
    await waitFor(() => completed.length === 2, 3000, 'the second job');
  });

  it('frees the key when the job is dead-lettered, cancelled or removed', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const a = await q.add({}, { dedup: { key: 'k1' } });
    expect(await q.cancel(a.id)).toBe('cancelled');
    expect((await q.add({}, { dedup: { key: 'k1' } })).deduplicated).toBe(false);
    const b = await q.add({}, { dedup: { key: 'k2' } });
    expect(await q.remove(b.id)).toBe(true);
    expect((await q.add({}, { dedup: { key: 'k2' } })).deduplicated).toBe(false);
    const dead = deferred();
    const w = s.trackWorker(new Worker(s.name, () => {
      throw new Error('no');
    }, { connection: s.url }));
    w.on('dead', () => dead.resolve());
    await q.pause();
    const c = await q.add({}, { attempts: 1, dedup: { key: 'k3' } });
    await q.remove((await q.add({}, { dedup: { key: 'k1' } })).id); // (the k1 job: out of the way)
    await q.resume();
    await dead.promise;
    expect((await q.getJob(c.id))?.state).toBe('dead');
    expect((await q.add({}, { dedup: { key: 'k3' } })).deduplicated).toBe(false);
  });
});

describe('dedup window', () => {
  it('holds the key for ttlMs from the first add, even after the job completed', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const completed = deferred();
    const w = s.trackWorker(new Worker(s.name, () => 'sent', { connection: s.url }));
    w.on('completed', () => completed.resolve());
    const openedAt = await s.redisNow();
    const first = await q.add({ n: 1 }, { dedup: { key: 'order-9', mode: 'window', ttlMs: 400 } });
    await completed.promise;
    expect(await q.add({ n: 2 }, { dedup: { key: 'order-9', mode: 'window', ttlMs: 400 } })).toEqual({ id: first.id, deduplicated: true });
    // once the window is over (Redis's clock decides), the same key makes a new job, and not before
    let fresh = first;
    await waitFor(async () => {
      fresh = await q.add({ n: 3 }, { dedup: { key: 'order-9', mode: 'window', ttlMs: 400 } });
      return !fresh.deduplicated;
    }, 3000, 'the window to end');
    expect(fresh.id).not.toBe(first.id);
    expect(await s.redisNow()).toBeGreaterThanOrEqual(openedAt + 400);
  });
});

describe('dedup debounce', () => {
  it('runs once, ttlMs after the last add, with the last add\'s data', async () => {
    const q = s.track(new Queue<{ v: number }>(s.name, { connection: s.url }));
    const ran: { v: number; at: number }[] = [];
    const done = deferred();
    s.trackWorker(new Worker<{ v: number }>(s.name, (job) => {
      ran.push({ v: job.data.v, at: Date.now() });
      done.resolve();
    }, { connection: s.url }));
    const opts = { dedup: { key: 'search-index', mode: 'debounce' as const, ttlMs: 300 } };
    const first = await q.add({ v: 1 }, opts);
    let lastSent = 0;
    for (let v = 2; v <= 5; v++) {
      await new Promise((r) => setTimeout(r, 100)); // adds 100 ms apart, within the 300 ms window
      lastSent = Date.now();
      expect(await q.add({ v }, opts)).toEqual({ id: first.id, deduplicated: true });
    }
    const waiting = await q.getJob(first.id);
    expect(waiting).toMatchObject({ state: 'delayed', data: { v: 5 } });
    // its run-at (Redis's clock, this machine's) was pushed to ttlMs after the last add
    const runAt = waiting!.stateSince!;
    expect(runAt).toBeGreaterThanOrEqual(lastSent + 300 - 1);
    expect(runAt).toBeLessThanOrEqual(Date.now() + 300);
    await done.promise;
    expect(ran).toHaveLength(1);
    expect(ran[0]!.v).toBe(5);
    expect(ran[0]!.at).toBeGreaterThanOrEqual(runAt);
    // after it ran, a new add is a new job
    const next = await q.add({ v: 6 }, opts);
    expect(next.deduplicated).toBe(false);
    expect(next.id).not.toBe(first.id);
  });
});
