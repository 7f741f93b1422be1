// Leasing ahead (packages/worker/src/lease-loop.ts): while handlers are quicker than a call's
// round trip, a worker leases up to `concurrency` jobs beyond its free slots and starts them as
// slots free; never more than `concurrency` handlers at once; jobs leased ahead are heartbeated
// like running ones, and released untouched at close(). With slow handlers it leases only what fits.
import { Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('ahead');
});
afterEach(async () => {
  await s.dispose();
});

type D = { n: number; slow?: number };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('leasing ahead', () => {
  it('with quick handlers, more jobs are leased than slots, but no more than `concurrency` handlers ever run at once', async () => {
    const q = s.track(new Queue<D>(s.name, { connection: s.url }));
    const N = 600;
    await q.addBulk(Array.from({ length: N }, (_, n) => ({ data: { n } })));
    let running = 0;
    let most = 0;
    let mostLeased = 0;
    let done = 0;
    const all = deferred();
    s.trackWorker(new Worker<D>(s.name, async (job) => {
      running++;
      most = Math.max(most, running);
      // now and then, look at Redis while this handler runs (a slow sample or two keeps the average quick)
      if (job.data.n % 25 === 24) mostLeased = Math.max(mostLeased, (await q.counts()).leased);
      running--;
      if (++done === N) all.resolve();
    }, { connection: s.url, concurrency: 2 }));
    await all.promise;
    expect(most, 'handlers running at once').toBeLessThanOrEqual(2);
    expect(mostLeased, 'leases held while a handler ran (slots: 2)').toBeGreaterThan(2);
    await waitFor(async () => (await q.counts()).leased === 0, 5000, 'every lease settled');
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, dead: 0 });
  });

  it('with slow handlers, a worker leases only what fits its slots: a second worker gets the rest', async () => {
    const q = s.track(new Queue<D>(s.name, { connection: s.url }));
    const byWorker = new Map<string, number>();
    const leasedSeen: number[] = [];
    let done = 0;
    const all = deferred();
    const handler = (tag: string) => async (): Promise<void> => {
      leasedSeen.push((await q.counts()).leased);
      await sleep(80);
      byWorker.set(tag, (byWorker.get(tag) ?? 0) + 1);
      if (++done === 6) all.resolve();
    };
    const a = s.trackWorker(new Worker<D>(s.name, handler('a'), { connection: s.url, concurrency: 1, autostart: false }));
    const b = s.trackWorker(new Worker<D>(s.name, handler('b'), { connection: s.url, concurrency: 1, autostart: false }));
    await Promise.all([a.ready(), b.ready()]);
    a.run();
    b.run();
    await q.addBulk(Array.from({ length: 6 }, (_, n) => ({ data: { n } })));
    await all.promise;
    // two slots in all: never a job leased beyond them
    expect(Math.max(...leasedSeen), 'leases held while a handler ran').toBeLessThanOrEqual(2);
    expect([byWorker.get('a'), byWorker.get('b')]).toEqual([3, 3]);
  });

  it('a job leased ahead while a handler runs longer than the lease is kept by the heartbeat: every job runs once', async () => {
    const q = s.track(new Queue<D>(s.name, { connection: s.url }));
    const runs = new Map<number, number>();
    const errors: Error[] = [];
    const N = 80;
    let done = 0;
    const all = deferred();
    const record = (n: number): void => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      if (++done === N) all.resolve();
    };
    // a second worker, started when the long job starts: it takes the rest, and its lease calls
    // reclaim any lease that expires (so a job leased ahead and not heartbeated would run twice)
    const other = s.trackWorker(new Worker<D>(s.name, (job) => record(job.data.n), { connection: s.url, concurrency: 1, leaseMs: 500, autostart: false }));
    await other.ready();
    // quick jobs first (the worker leases ahead), then one that outlives three leases, then quick ones
    await q.addBulk(Array.from({ length: N }, (_, n) => ({ data: { n, ...(n === 50 ? { slow: 1500 } : {}) } })));
    const w = s.trackWorker(new Worker<D>(s.name, async (job) => {
      if (job.data.slow) {
        other.run();
        await sleep(job.data.slow);
      }
      record(job.data.n);
    }, { connection: s.url, concurrency: 1, leaseMs: 500 }));
    for (const worker of [w, other]) worker.on('error', (err) => void errors.push(err));
    await all.promise;
    await waitFor(async () => (await q.counts()).leased === 0, 5000, 'every lease settled');
    expect([...runs.entries()].filter(([, n]) => n !== 1), 'jobs that ran more than once').toEqual([]);
    expect(runs.size).toBe(N);
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0, dead: 0 });
  });

  it('close(): a job leased ahead goes back untouched (no attempt used) and never starts, without waiting for the grace', async () => {
    const q = s.track(new Queue<D>(s.name, { connection: s.url }));
    const N = 400;
    const ids = await q.addBulk(Array.from({ length: N }, (_, n) => ({ data: { n } })));
    const started: number[] = [];
    const hold = deferred();
    const w = new Worker<D>(s.name, async (job) => {
      started.push(job.data.n);
      if (job.data.n === 300) await hold.promise; // its slot stays busy: the worker leases the next one ahead
    }, { connection: s.url, concurrency: 1 });
    await waitFor(async () => started.includes(300) && (await q.counts()).leased === 2, 5000, 'job 300 running and one more leased ahead');
    const t0 = performance.now();
    const closing = w.close(); // grace 10 s: the job leased ahead must not wait for it
    setTimeout(() => hold.resolve(), 100);
    await closing;
    expect(performance.now() - t0, 'close() took').toBeLessThan(3000);
    expect(started.at(-1), 'the last job started').toBe(300);
    expect(started).toHaveLength(301);
    const counts = await q.counts();
    expect(counts).toMatchObject({ leased: 0, ready: N - 301 });
    // the job leased ahead is back in line, first, with no attempt used
    const next = await q.getJob(ids[301]!);
    expect(next).toMatchObject({ state: 'ready', attemptsMade: 0 });
  });

  it('a job leased ahead that is cancelled while it waits never starts; the worker goes on with the next', async () => {
    const q = s.track(new Queue<D>(s.name, { connection: s.url }));
    const ids = await q.addBulk(Array.from({ length: 200 }, (_, n) => ({ data: { n } })));
    const started: number[] = [];
    const hold = deferred();
    const errors: Error[] = [];
    const w = s.trackWorker(new Worker<D>(s.name, async (job) => {
      started.push(job.data.n);
      if (job.data.n === 100) await hold.promise;
    }, { connection: s.url, concurrency: 1, leaseMs: 600 }));
    const cancelled = deferred<string>();
    w.on('error', (err) => void errors.push(err));
    w.on('cancelled', (job) => cancelled.resolve(job.id));
    await waitFor(async () => started.includes(100) && (await q.counts()).leased === 2, 5000, 'job 100 running and one more leased ahead');
    expect(await q.cancel(ids[101]!)).toBe('cancelling');
    // the heartbeat (every 200 ms) learns of it: the worker lets go of that lease, and says so
    expect(await cancelled.promise).toBe(ids[101]);
    hold.resolve();
    await waitFor(() => started.length === 199, 5000, 'the other jobs to run');
    expect(started.includes(101), 'the cancelled job started').toBe(false);
    expect((await q.getJob(ids[101]!))?.state).toBe('cancelled');
    expect(errors.map((e) => e.message)).toEqual([]);
  });
});
