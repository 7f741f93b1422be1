// Priorities: higher runs first, first-in-first-out within one priority, kept across retries
// and replays; waiting counts (priorityAgingMs per level), so a low priority job starts within
// a bound under a sustained stream of high-priority jobs. Jobs without a priority keep the list.
import { Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('prio');
});
afterEach(async () => {
  await s.dispose();
});

/** Runs every waiting job with one worker at concurrency 1 and returns the ids in the order they started. */
async function runOrder(expected: number): Promise<string[]> {
  const order: string[] = [];
  const all = deferred();
  const w = s.trackWorker(new Worker(s.name, (job) => {
    order.push(job.id);
    if (order.length === expected) all.resolve();
  }, { connection: s.url }));
  await all.promise;
  await w.close();
  return order;
}

describe('priorities', () => {
  it('runs higher priorities first and keeps the order added within one priority, across the list and the set', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    // jobs without a priority first (the list), then a mix: the priority 5 jobs overtake everything
    const plain1 = await q.add({}, { jobId: 'plain-1' });
    const low = await q.add({}, { jobId: 'low', priority: -3 });
    const hi1 = await q.add({}, { jobId: 'hi-1', priority: 5 });
    const plain2 = await q.add({}, { jobId: 'plain-2' });
    const hi2 = await q.add({}, { jobId: 'hi-2', priority: 5 });
    const mid = await q.add({}, { jobId: 'mid', priority: 2 });
    expect(await q.counts()).toMatchObject({ ready: 6 });
    expect((await q.getJob(mid))?.priority).toBe(2);
    expect(await runOrder(6)).toEqual([hi1, hi2, mid, plain1, plain2, low]);
  });

  it('a bulk add keeps its order within each priority', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const ids = await q.addBulk(Array.from({ length: 30 }, (_, i) => ({ data: { i }, opts: { jobId: `j${i}`, priority: i % 3 } })));
    const byPriority = [2, 1, 0].flatMap((p) => ids.filter((_, i) => i % 3 === p));
    expect(await runOrder(30)).toEqual(byPriority);
  });

  it('keeps a job\'s priority across a retry and a replay', async () => {
    const q = s.track(new Queue<{ name: string }>(s.name, { connection: s.url }));
    await q.pause();
    const flaky = await q.add({ name: 'flaky' }, { priority: 7, attempts: 1 });
    const starts: string[] = [];
    const done = deferred();
    const w = s.trackWorker(new Worker<{ name: string }>(s.name, (job) => {
      starts.push(job.data.name);
      if (job.data.name === 'flaky' && starts.filter((n) => n === 'flaky').length === 1) throw new Error('first run fails');
      if (starts.length === 5) done.resolve();
    }, { connection: s.url }));
    await q.resume();
    await waitFor(async () => (await q.counts()).dead === 1, 5000, 'the flaky job to die');
    await q.pause();
    for (const name of ['a', 'b', 'c']) await q.add({ name });
    expect((await q.dead.replay([flaky])).done).toEqual([flaky]);
    expect((await q.getJob(flaky))?.priority).toBe(7);
    await q.resume();
    await done.promise;
    // the replayed job keeps priority 7 and runs before the plain jobs added before its replay
    expect(starts).toEqual(['flaky', 'flaky', 'a', 'b', 'c']);
    await w.close();
  });

  it('no starvation: a low priority job starts within (levels x priorityAgingMs) under a sustained high-priority stream', async () => {
    const AGING_MS = 100;
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.setPolicy({ priorityAgingMs: AGING_MS });
    // a steady backlog of ~40 priority 10 jobs, topped up as they run: the stream never ends
    let stop = false;
    let lowStartedAt = 0;
    let highAfterLow = 0;
    let lowAddedAt = 0;
    const w = s.trackWorker(new Worker<{ low?: boolean }>(s.name, async (job) => {
      if (job.data.low) lowStartedAt = Date.now();
      else if (lowAddedAt > 0 && lowStartedAt === 0) highAfterLow++;
      await new Promise((r) => setTimeout(r, 2));
    }, { connection: s.url, concurrency: 1 }));
    const feeder = (async () => {
      while (!stop) {
        const { ready } = await q.counts();
        if (ready < 40) await q.addBulk(Array.from({ length: 40 - ready }, () => ({ data: {}, opts: { priority: 10 } })));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await waitFor(async () => (await q.counts()).ready >= 30, 5000, 'the high-priority backlog');
      lowAddedAt = Date.now();
      await q.add({ low: true }, { priority: -10 });
      await waitFor(() => lowStartedAt > 0, 10_000, 'the low priority job to start');
    } finally {
      stop = true;
      await feeder;
    }
    const waited = lowStartedAt - lowAddedAt;
    // 20 levels x 100 ms = 2 s of head start for the stream; then the ~40 jobs ahead of it run (~2-5 ms each)
    expect(waited).toBeGreaterThanOrEqual(20 * AGING_MS - 50);
    expect(waited).toBeLessThan(20 * AGING_MS + 1500);
    // and it was really overtaken meanwhile (a plain FIFO would have run it after the ~40 ahead)
    expect(highAfterLow).toBeGreaterThan(100);
    await w.close();
  });
});
