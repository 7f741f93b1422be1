// The acceptance scenarios of issue 12 for order, turns and concurrency with real worker
// processes (test/support/group-processes.ts), run on the single server
// (test/process/groups.test.ts) and on the local Redis Cluster (test/cluster/groups.test.ts);
// rate limits and back-off are in test/support/limit-scenarios.ts.
import { expect } from 'vitest';
import type { Scope } from './behaviour.js';
import { jobEvents, max, openQueue, readStream, startWorkers, waitEvents } from './group-processes.js';

/**
 * 2,000 jobs in 50 groups over 4 processes, every seventh job of a group failing its first
 * attempt (half of them retried at once, half after a fixed backoff of 20 ms: the failure's
 * two ways back): with strict order, each group's jobs run one at a time in the order added,
 * and a failed job's retry runs before the next job of its group starts.
 */
export async function orderWithRetries(s: Scope): Promise<void> {
  const GROUPS = 50;
  const PER = 40;
  const failsFirst = (i: number): boolean => i % 7 === 3;
  const q = openQueue(s);
  await q.setPolicy({ eventsMaxLen: 1_000_000 });
  const w = await startWorkers(s, 4, 8);
  // interleaved, as traffic of many tenants arrives: the k-th job goes to group k % 50
  const ids = await q.addBulk(Array.from({ length: GROUPS * PER }, (_, k) => {
    const g = `g${k % GROUPS}`;
    const i = Math.floor(k / GROUPS);
    return { data: { g, i, sleepMs: 1 + (k % 3), failFirst: failsFirst(i) }, opts: { group: g, attempts: 3, backoff: { type: 'fixed' as const, delayMs: i % 14 === 3 ? 0 : 20, jitter: 0 } } };
  }));
  await waitEvents(w, 'completed', GROUPS * PER, 90_000);
  await w.close();

  const expected = (i: number): string[] => (failsFirst(i) ? [`start ${i}#1`, `end ${i}#1 fail`, `start ${i}#2`, `end ${i}#2 ok`] : [`start ${i}#1`, `end ${i}#1 ok`]);
  const runs = w.events.filter((e) => e.t === 'start' || e.t === 'end').sort((a, b) => a.ord - b.ord);
  const stream = jobEvents(await readStream(s.admin, q.keys.events), 'started', 'failed', 'completed');
  const index = new Map(ids.map((id, k) => [id, Math.floor(k / GROUPS)]));
  for (let k = 0; k < GROUPS; k++) {
    const g = `g${k}`;
    const want = Array.from({ length: PER }, (_, i) => expected(i)).flat();
    // the handlers' record: one at a time, in add order, each retry before the next job
    expect(runs.filter((e) => e.g === g).map((e) => (e.t === 'start' ? `start ${e.i}#${e.attempt}` : `end ${e.i}#${e.attempt} ${e.how}`)), `group ${g}, by its handlers`).toEqual(want);
    // Redis's: each job's lease after the previous job's ack (the window between a handler's end and its ack included)
    const mine = new Set(ids.filter((_, j) => j % GROUPS === k));
    expect(stream.filter((e) => mine.has(e.id)).map((e) => `${e.e === 'started' ? 'start' : 'end'} ${index.get(e.id)}#${e.attempt}${e.e === 'started' ? '' : e.e === 'failed' ? ' fail' : ' ok'}`), `group ${g}, by the events stream`).toEqual(want);
  }
  const starts = w.of('start');
  expect(max(starts.map((e) => e.grunning))).toBe(1);
  // groups ran side by side, on every process, and a group's next job often on another process than its last
  expect(max(starts.map((e) => e.running))).toBeGreaterThan(8);
  expect(new Set(starts.map((e) => e.pid)).size).toBe(4);
  const byOrd = [...starts].sort((a, b) => a.ord - b.ord);
  const last = new Map<string, number>();
  let handovers = 0;
  for (const e of byOrd) {
    if (last.has(e.g!) && last.get(e.g!) !== e.pid) handovers++;
    last.set(e.g!, e.pid);
  }
  expect(handovers).toBeGreaterThan(200);
  // each job completed once, on the attempt expected; nothing died, no worker reported an error
  const completed = new Map(w.of('completed').map((e) => [e.id, e.attempt]));
  expect(w.of('completed')).toHaveLength(ids.length);
  expect(ids.filter((id) => completed.get(id) !== (failsFirst(index.get(id)!) ? 2 : 1))).toEqual([]);
  expect(w.of('retried')).toHaveLength(GROUPS * Array.from({ length: PER }, (_, i) => i).filter(failsFirst).length);
  expect([...w.of('dead'), ...w.of('error')]).toEqual([]);
}

/**
 * A group of 10,000 jobs is running on 4 processes (4 slots each) when a group of 10 is added;
 * no group limit (policy groups.concurrency 0), so only the turns decide. The bound: with G
 * groups waiting, of equal weight, a group's k-th waiting job starts within k·G starts after it
 * was added (groups take turns, one start each), plus, counted where handlers start, the
 * starts of lease calls already in flight: each worker leases at most ceil(concurrency / 2)
 * jobs per call, two calls in flight, so 4 × 2 × 2 = 16 here. In Redis's own order of starts
 * (the `started` entries of the events stream) nothing is in flight: k·G holds exactly.
 */
export async function smallGroupWithinItsTurns(s: Scope): Promise<void> {
  const WORKERS = 4;
  const CONCURRENCY = 4;
  const G = 2;
  const IN_FLIGHT = WORKERS * 2 * Math.ceil(CONCURRENCY / 2);
  const q = openQueue(s);
  // the stream is not trimmed (1,000,000 entries): its length only grows, so it orders starts and adds
  await q.setPolicy({ groups: { concurrency: 0 }, eventsMaxLen: 1_000_000 });
  const w = await startWorkers(s, WORKERS, CONCURRENCY);
  const big = await q.addBulk(Array.from({ length: 10_000 }, (_, i) => ({ data: { g: 'big', i, sleepMs: 10 }, opts: { group: 'big' } })));
  await waitEvents(w, 'start', 200, 30_000); // the big group is well under way
  const small = await q.addBulk(Array.from({ length: 10 }, (_, i) => ({ data: { g: 'small', i, sleepMs: 10 }, opts: { group: 'small' } })));
  await waitEvents(w, 'end', 10, 30_000, (e) => e.g === 'small');
  await w.close();

  const stream = await readStream(s.admin, q.keys.events);
  const addedAt = stream.findIndex((e) => e.e === 'added' && e.ids.includes(small[0]!));
  expect(stream[addedAt]!.ids).toEqual(small);
  // the handlers' start ordinals: a start whose MULTI saw the stream without the add's entry came
  // before the add, so the starts before the add are the first `before` (every start read both)
  const starts = w.of('start');
  const before = max(starts.filter((e) => e.xlen <= addedAt).map((e) => e.n));
  expect(before).toBeGreaterThanOrEqual(200);
  const startOf = new Map(starts.map((e) => [e.id, e]));
  small.forEach((id, k) => {
    expect(startOf.get(id)!.n - before, `small job ${k + 1}: starts after the add, counted by the handlers`).toBeLessThanOrEqual((k + 1) * G + IN_FLIGHT);
  });
  // Redis's order: the starts after the add's entry
  const after = jobEvents(stream, 'started').filter((e) => e.at > addedAt).map((e) => e.id);
  small.forEach((id, k) => {
    const place = after.indexOf(id) + 1;
    expect(place, `small job ${k + 1}: started`).toBeGreaterThan(0);
    expect(place, `small job ${k + 1}: starts after the add, in Redis's order`).toBeLessThanOrEqual((k + 1) * G);
  });
  // both groups were leased in add order. A big job may be leased twice: a lease reply that
  // reaches a worker after its close() began is given back unstarted, to its place in its
  // group, and a worker not yet closing takes it again; so its first lease counts, and no
  // handler ran one twice. Every small job finished and was acked.
  const order = (ids: string[]): number[] => {
    const place = new Map(ids.map((id, i) => [id, i]));
    return [...new Set(jobEvents(stream, 'started').filter((e) => place.has(e.id)).map((e) => place.get(e.id)!))];
  };
  expect(order(small)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  const bigOrder = order(big);
  expect(bigOrder).toEqual(Array.from({ length: bigOrder.length }, (_, i) => i));
  expect(starts.filter((e) => e.run > 1)).toEqual([]);
  expect(bigOrder.length, 'big jobs started by the time the small group was done').toBeLessThan(1000);
  expect(w.of('end').filter((e) => e.g === 'small').map((e) => e.how)).toEqual(Array(10).fill('ok'));
  const completed = new Set(w.of('completed').map((e) => e.id));
  expect(small.filter((id) => !completed.has(id))).toEqual([]);
  expect(w.of('error')).toEqual([]);
}

/** Per-group concurrency 2 (the policy's) and 3 (a group's own) across 4 processes with slots for all. */
export async function groupConcurrencyAcrossProcesses(s: Scope): Promise<void> {
  const q = openQueue(s);
  await q.setPolicy({ groups: { concurrency: 2 }, eventsMaxLen: 1_000_000 });
  await q.groups.set('wide', { concurrency: 3 });
  const w = await startWorkers(s, 4, 6); // 24 slots: 10 groups × 2 + 3 fit
  const groups = [...Array.from({ length: 10 }, (_, k) => ({ g: `g${k}`, n: 30 })), { g: 'wide', n: 60 }];
  const jobs = groups.flatMap(({ g, n }) => Array.from({ length: n }, (_, i) => ({ data: { g, i, sleepMs: 4 + (i % 3) }, opts: { group: g } })));
  const ids = await q.addBulk(jobs);
  await waitEvents(w, 'completed', jobs.length, 60_000);
  await w.close();

  const most: Record<string, number> = {};
  for (const e of w.of('start')) most[e.g!] = Math.max(most[e.g!] ?? 0, e.grunning);
  expect(most).toEqual(Object.fromEntries(groups.map(({ g }) => [g, g === 'wide' ? 3 : 2])));
  // each group's jobs were leased in the order added
  const place = new Map(ids.map((id, k) => [id, jobs[k]!.data]));
  const leased = jobEvents(await readStream(s.admin, q.keys.events), 'started').map((e) => place.get(e.id)!);
  for (const { g, n } of groups) expect(leased.filter((d) => d.g === g).map((d) => d.i), `group ${g}`).toEqual(Array.from({ length: n }, (_, i) => i));
  expect(new Set(w.of('start').map((e) => e.pid)).size).toBe(4);
  expect([...w.of('failed'), ...w.of('error')]).toEqual([]);
}

/** maxRunning 5 across 4 processes of 4 slots each, over jobs without a group and jobs of 20 groups. */
export async function maxRunningAcrossProcesses(s: Scope): Promise<void> {
  const q = openQueue(s);
  await q.setPolicy({ maxRunning: 5 });
  const w = await startWorkers(s, 4, 4);
  const plain = Array.from({ length: 200 }, (_, i) => ({ data: { i, sleepMs: 3 + (i % 3) } }));
  const grouped = Array.from({ length: 200 }, (_, i) => ({ data: { g: `g${i % 20}`, i, sleepMs: 3 + (i % 3) }, opts: { group: `g${i % 20}` } }));
  const ids = await q.addBulk([...plain, ...grouped].sort((a, b) => a.data.i - b.data.i));
  await waitEvents(w, 'completed', ids.length, 60_000);
  await w.close();
  expect(max(w.of('start').map((e) => e.running))).toBe(5);
  // the five ran in more than one process at once: the limit is the queue's, not a worker's
  // (a worker that found the queue at its limit waits for a wake-up, so not every process need run jobs)
  const running = new Map<string, number>();
  let spread = 0;
  for (const e of w.events.filter((x) => x.t === 'start' || x.t === 'end').sort((a, b) => a.ord - b.ord)) {
    if (e.t === 'start') running.set(e.id, e.pid);
    else running.delete(e.id);
    expect(running.size).toBeLessThanOrEqual(5);
    if (running.size === 5) spread = Math.max(spread, new Set(running.values()).size);
  }
  expect(spread).toBeGreaterThanOrEqual(2);
  expect([...w.of('failed'), ...w.of('error')]).toEqual([]);
}
