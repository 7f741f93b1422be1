// The acceptance scenarios of issue 12 for rate limits and handler-requested back-off with real
// worker processes (test/support/group-processes.ts), run on the single server
// (test/process/groups.test.ts) and on the local Redis Cluster (test/cluster/groups.test.ts).
import { expect } from 'vitest';
import type { Scope } from './behaviour.js';
import { jobEvents, mostInWindow, openQueue, readStream, startWorkers, waitEvents } from './group-processes.js';

/**
 * Rate limits are kept on Redis's clock, at the lease: each start is timed by when its lease
 * script ran (`leasedAt`: the job's lease deadline, read by its handler, less the lease: Redis's
 * TIME, floored to the ms). A handler's own clock, Date.now or TIME, would add its process's
 * delay in starting a leased job, tens of ms on a busy machine against 20-40 ms between starts.
 * The limiter is GCRA: with e = intervalMs / max, up to max start at once, and the n-th after
 * those not before n·e later; so a span of L ms (of floored times: under L + 1 ms) holds at most
 * max + ceil((L + 1) / e) - 1 starts. For L = k intervals that is the documented (k + 1) × max,
 * checked as such; every other L checks the rest ("evenly": no burst above max, nothing faster
 * than one start per e). And the limit is used: over the run's k intervals at least (k - 1) × max started.
 */
function expectRate(times: number[], limit: { max: number; intervalMs: number }, what: string): void {
  const { max: perInterval, intervalMs } = limit;
  const sorted = [...times].sort((a, b) => a - b);
  const e = intervalMs / perInterval;
  const span = sorted.at(-1)! - sorted[0]!;
  expect(span, `${what}: the run lasts at least 10 intervals`).toBeGreaterThanOrEqual(10 * intervalMs);
  for (let k = 1; (k - 1) * intervalMs <= span; k++) {
    expect(mostInWindow(sorted, k * intervalMs), `${what}: most starts within ${k} interval(s)`).toBeLessThanOrEqual((k + 1) * perInterval);
  }
  const over: string[] = [];
  for (let l = 0; l <= span; l++) {
    const most = mostInWindow(sorted, l);
    const allowed = perInterval + Math.ceil((l + 1) / e) - 1;
    if (most > allowed) over.push(`${most} starts within ${l} ms (at most ${allowed})`);
  }
  expect(over[0], `${what}: a span with more starts than the limiter allows (${over.length} such spans)`).toBeUndefined();
  expect(sorted.length, `${what}: starts over ${(span / intervalMs).toFixed(1)} intervals`).toBeGreaterThanOrEqual((span / intervalMs - 1) * perInterval);
}

/** The queue's rate limit (10 per 200 ms) over 3 processes of 10 slots each: 150 jobs, about 14 intervals. */
export async function queueRateLimit(s: Scope): Promise<void> {
  const limit = { max: 10, intervalMs: 200 };
  const q = openQueue(s);
  await q.setPolicy({ rateLimit: limit, eventsMaxLen: 1_000_000 });
  const w = await startWorkers(s, 3, 10);
  const ids = await q.addBulk(Array.from({ length: 150 }, (_, i) => ({ data: { i, sleepMs: 1 } })));
  await waitEvents(w, 'completed', ids.length, 60_000);
  await w.close();
  const starts = w.of('start');
  expect(starts.map((e) => e.id).sort()).toEqual([...ids].sort()); // each job once
  expectRate(starts.map((e) => e.leasedAt), limit, 'the queue');
  expect(new Set(starts.map((e) => e.pid)).size).toBe(3);
}

/**
 * Per-group rate limits over 3 processes of 10 slots each: three groups at the policy's 5 per
 * 200 ms (60 jobs each) and one at its own 10 per 200 ms (120 jobs), side by side, about 11
 * intervals; no group limit on concurrency, no queue limit.
 */
export async function groupRateLimits(s: Scope): Promise<void> {
  const policyRate = { max: 5, intervalMs: 200 };
  const ownRate = { max: 10, intervalMs: 200 };
  const q = openQueue(s);
  await q.setPolicy({ groups: { concurrency: 0, rateLimit: policyRate }, eventsMaxLen: 1_000_000 });
  await q.groups.set('fast', { rateLimit: ownRate });
  const w = await startWorkers(s, 3, 10);
  const groups = [{ g: 'a', n: 60 }, { g: 'b', n: 60 }, { g: 'c', n: 60 }, { g: 'fast', n: 120 }];
  const jobs = groups.flatMap(({ g, n }) => Array.from({ length: n }, (_, i) => ({ data: { g, i, sleepMs: 1 }, opts: { group: g } })));
  const ids = await q.addBulk(jobs);
  await waitEvents(w, 'completed', ids.length, 60_000);
  await w.close();
  const starts = w.of('start');
  expect(starts.map((e) => e.id).sort()).toEqual([...ids].sort()); // each job once
  for (const { g, n } of groups) {
    const times = starts.filter((e) => e.g === g).map((e) => e.leasedAt);
    expect(times).toHaveLength(n);
    expectRate(times, g === 'fast' ? ownRate : policyRate, `group ${g}`);
  }
}

/**
 * A handler's BackOffError(500) holds every worker (3 processes, 2 slots each): no job is
 * leased until 500 ms later, so no handler starts one, but those leased before the back-off
 * was applied (on the wire). Every other run takes 100 ms, so each worker's next lease comes
 * well after the back-off. The job that backed off keeps its attempt count (attempts: 1, and it
 * completes on attempt 1).
 */
export async function backOffHoldsEveryWorker(s: Scope): Promise<void> {
  const DELAY = 500;
  const q = openQueue(s);
  await q.setPolicy({ eventsMaxLen: 1_000_000 });
  const w = await startWorkers(s, 3, 2);
  const ids = await q.addBulk(Array.from({ length: 24 }, (_, i) => ({ data: { i, sleepMs: 100, ...(i === 8 ? { backOffMs: DELAY } : {}) }, opts: { attempts: 1 } })));
  const thrower = ids[8]!;
  await waitEvents(w, 'completed', ids.length, 30_000);
  await w.close();

  expect(w.of('backedOff').map((e) => [e.id, e.attempt, e.delayMs, e.scope])).toEqual([[thrower, 1, DELAY, 'queue']]);
  const stream = await readStream(s.admin, q.keys.events);
  const [backedOff, ...more] = jobEvents(stream, 'backed-off');
  expect(more).toEqual([]);
  expect(backedOff!.id).toBe(thrower);
  // the hold the back-off set, on Redis's clock: DELAY after the script ran, so after the
  // thrower's handler recorded its end and before the script's stream entry
  const until = Number(await s.admin.hget(q.keys.meta, 'hold_until'));
  const thrown = w.of('end').find((e) => e.id === thrower && e.how === 'backoff')!;
  expect(until - DELAY).toBeGreaterThanOrEqual(thrown.at);
  expect(until - DELAY).toBeLessThanOrEqual(backedOff!.ms);
  // Redis's order: no lease after the back-off before the hold ended, and leases went on then
  const started = jobEvents(stream, 'started');
  const later = started.filter((e) => e.at > backedOff!.at);
  expect(later.length).toBeGreaterThan(0);
  expect(later.filter((e) => e.ms < until)).toEqual([]);
  // the handlers: nothing started before the hold ended but what was leased before the back-off
  const onTheWire = new Set(started.filter((e) => e.at < backedOff!.at && e.id !== thrower).map((e) => e.id));
  const held = w.of('start').filter((e) => !onTheWire.has(e.id) && !(e.id === thrower && e.run === 1));
  expect(held.filter((e) => e.leasedAt < until).map((e) => ({ i: e.i, early: until - e.leasedAt }))).toEqual([]);
  // every process had a free slot during the hold (fewer than its 2 runs going when the hold
  // began, as for a process slow to start on a loaded machine, or a run ended in it) and
  // started its next job after it
  const runningAt = (pid: number, t: number): number =>
    w.of('start').filter((e) => e.pid === pid && e.at <= t).length - w.of('end').filter((e) => e.pid === pid && e.at <= t).length;
  for (const pid of w.pids) {
    const freed = runningAt(pid, backedOff!.ms) < 2 || w.of('end').some((e) => e.pid === pid && e.at > backedOff!.ms && e.at < until);
    expect(freed, `process ${pid} had a free slot during the hold`).toBe(true);
    expect(held.some((e) => e.pid === pid), `process ${pid} started a job after the hold`).toBe(true);
  }
  // the job that backed off ran again on the same attempt, and completed
  expect(w.of('start').filter((e) => e.id === thrower).map((e) => [e.run, e.attempt])).toEqual([[1, 1], [2, 1]]);
  expect(w.of('completed').find((e) => e.id === thrower)?.attempt).toBe(1);
  expect((await q.counts()).dead).toBe(0);
  expect(w.of('completed')).toHaveLength(ids.length);
}

/**
 * A back-off of scope 'group' holds that group on every worker, and only that group: the
 * other group goes on meanwhile, and the held group's order holds (the job that backed off
 * runs first when the hold is over).
 */
export async function groupBackOff(s: Scope): Promise<void> {
  const DELAY = 400;
  const q = openQueue(s);
  await q.setPolicy({ eventsMaxLen: 1_000_000 });
  const w = await startWorkers(s, 3, 2);
  const jobs = [
    ...Array.from({ length: 6 }, (_, i) => ({ data: { g: 'held', i, sleepMs: 20, ...(i === 2 ? { backOffMs: DELAY, backOffScope: 'group' as const } : {}) }, opts: { group: 'held', attempts: 1 } })),
    ...Array.from({ length: 40 }, (_, i) => ({ data: { g: 'other', i, sleepMs: 20 }, opts: { group: 'other' } })),
  ];
  const ids = await q.addBulk(jobs);
  await waitEvents(w, 'completed', ids.length, 30_000);
  await w.close();

  expect(w.of('backedOff').map((e) => [e.id, e.attempt, e.delayMs, e.scope])).toEqual([[ids[2], 1, DELAY, 'group']]);
  const stream = await readStream(s.admin, q.keys.events);
  const [backedOff] = jobEvents(stream, 'backed-off');
  const started = jobEvents(stream, 'started').filter((e) => e.at > backedOff!.at);
  const groupOf = new Map(ids.map((id, k) => [id, jobs[k]!.data]));
  const heldAfter = started.filter((e) => groupOf.get(e.id)!.g === 'held');
  // the group's next start is the job that backed off, DELAY after the back-off (which came
  // after its handler recorded its end; all on Redis's clock)
  const thrown = w.of('end').find((e) => e.g === 'held' && e.how === 'backoff')!;
  const retry = w.of('start').find((e) => e.id === thrown.id && e.run === 2)!;
  expect(heldAfter[0]!.id).toBe(thrown.id);
  expect(retry.leasedAt).toBeGreaterThanOrEqual(thrown.at + DELAY);
  // the other group went on during the hold
  expect(started.filter((e) => groupOf.get(e.id)!.g === 'other' && e.at < heldAfter[0]!.at).length).toBeGreaterThanOrEqual(5);
  const heldOrder = jobEvents(stream, 'started').filter((e) => groupOf.get(e.id)!.g === 'held').map((e) => groupOf.get(e.id)!.i);
  expect(heldOrder).toEqual([0, 1, 2, 2, 3, 4, 5]);
  expect(w.of('start').filter((e) => e.g === 'held' && e.i === 2).map((e) => e.attempt)).toEqual([1, 1]);
  expect((await q.counts()).dead).toBe(0);
}
