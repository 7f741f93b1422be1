// Idle workers block on the wake list with a long safety timeout (maxIdleMs). They must still
// reclaim an expired lease on time: the lease call that makes `leased` non-empty wakes one of
// them, which arms a timer for the lease deadline.
import { Worker } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, enqueueEntry, record, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('idle');
});
afterEach(async () => {
  await s.dispose();
});

it('reclaims the lease of a worker that died while every other worker is idle, on time', async () => {
  const runs: { id: string; attempt: number; at: number }[] = [];
  // idle for a minute at a time: only the announcement can wake it in time
  s.trackWorker(
    new Worker(s.name, (job) => void runs.push({ id: job.id, attempt: job.attempt, at: Date.now() }), {
      connection: s.named('w'),
      maxIdleMs: 60_000,
    }),
  );
  await s.waitBlocked('w');

  // a "worker" that leases one job for 500 ms and dies. The job is written together with taking
  // its wake token back, in one transaction, so the idle worker does not wake for it: a plain
  // lease call is then the first to hold a lease
  const id = '42';
  const multi = s.admin.multi();
  s.scripts.queue(s.admin, multi, 'enqueue', { allOrNothing: false, reserve: 0, jobs: [enqueueEntry(id, record({}, { backoffMs: 0, jitter: 0 }), { gen: true })] });
  await multi.del(s.keys.wake).exec();
  const leasedAt = Date.now();
  const { jobs } = await s.lease(1, 500);
  expect(jobs.map((j) => j.id)).toEqual([id]);
  const deadline = Number(await s.admin.zscore(s.keys.leased, id));

  await waitFor(() => runs.length === 1, 5000, 'the reclaimed job to run');
  expect(runs[0]).toMatchObject({ id, attempt: 2 });
  // reclaimed at the lease deadline (plus timer and Redis hz slack), not after maxIdleMs
  expect(runs[0]!.at).toBeGreaterThanOrEqual(deadline); // Redis's clock is this machine's
  expect(runs[0]!.at - leasedAt).toBeLessThan(2000);
});
