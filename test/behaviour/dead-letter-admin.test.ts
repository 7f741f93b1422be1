// The dead-letter queue as an operator works it through the library: filters, pages with a
// cursor, groups by error fingerprint, guarded replay and purge of a filter, the resumable
// redrive task (rate, interruption, nothing replayed twice), queue stats and queue discovery.
import { ResultCode, encode } from '@kyoo/core';
import { Queue, RedriveError, Worker, errorFingerprint, findQueues, type DeadLetterFilter } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { enqueueEntry, record } from '../support/behaviour.js';
import { cleanupPrefix } from '../support/redis.js';

let s: Scope;
let q: Queue;
beforeEach(() => {
  s = new Scope('dlq-admin');
  q = s.track(new Queue(s.name, { connection: s.url }));
});
afterEach(async () => {
  await s.dispose();
});

interface Failure { name: string; message: string; stack?: string }
const smtp = (n: number): Failure => ({ name: 'SmtpError', message: `smtp-${n}.example.com refused (421)`, stack: `SmtpError: x\n    at sendMail (/app/mail.js:${n}:1)` });
const typeError: Failure = { name: 'TypeError', message: "Cannot read properties of undefined (reading 'to')", stack: 'TypeError: x\n    at render (/app/template.js:9:3)' };

/** Adds job `id` alone, leases it and fails it for good with `error`; returns its `dead` score. */
async function die(id: string, error: Failure): Promise<string> {
  await s.call('enqueue', { allOrNothing: false, reserve: 0, jobs: [enqueueEntry(id, record({ id }), { priority: 1000 })] });
  const { jobs } = await s.lease(1, 30_000);
  expect(jobs.map((j) => j.id)).toEqual([id]);
  const code = await s.call('fail', { id, token: jobs[0]!.token, dead: true, delayMs: 0, error: encode({ ...error, attempt: jobs[0]!.attempt }), dedup: '' });
  expect(code).toBe(ResultCode.OK);
  return (await s.admin.zscore(s.keys.dead, id))!;
}

/** Moves a dead job's time of death `ms` into the past (as if it had died then). */
async function agedBy(id: string, ms: number): Promise<void> {
  const score = Number(await s.admin.zscore(s.keys.dead, id));
  await s.admin.zadd(s.keys.dead, score - ms, id);
}

/** Ten SMTP failures s0..s9 and three TypeErrors t0..t2, dead in that order. */
async function story(): Promise<void> {
  for (let i = 0; i < 10; i++) await die(`s${i}`, smtp(i));
  for (let i = 0; i < 3; i++) await die(`t${i}`, typeError);
}

describe('filters', () => {
  it('match on the last error: name, message text or RegExp, fingerprint, ids, age', async () => {
    await story();
    await agedBy('s0', 3_600_000);
    await agedBy('s1', 3_600_000);
    const ids = async (filter: DeadLetterFilter) => (await q.dead.find(filter, { limit: 1000 })).jobs.map((j) => j.id);
    expect(await ids({ errorName: 'TypeError' })).toEqual(['t0', 't1', 't2']);
    expect(await ids({ message: 'smtp-3.' })).toEqual(['s3']);
    // a global RegExp keeps no state from one job to the next
    expect(await ids({ message: /SMTP-[0-2]\./gi })).toEqual(['s0', 's1', 's2']);
    expect(await ids({ fingerprint: errorFingerprint(typeError).fingerprint })).toEqual(['t0', 't1', 't2']);
    expect(await ids({ ids: ['t2', 's4', 'nope', 's4'] })).toEqual(['s4', 't2']);
    expect(await ids({ olderThanMs: 60_000 })).toEqual(['s0', 's1']);
    expect(await ids({ newerThanMs: 60_000, errorName: 'SmtpError' })).toEqual(['s2', 's3', 's4', 's5', 's6', 's7', 's8', 's9']);
    expect(await q.dead.count({ errorName: 'SmtpError', olderThanMs: 60_000 })).toBe(2);
    expect(await q.dead.count()).toBe(13);
    const [job] = (await q.dead.find({ ids: ['s5'] })).jobs;
    expect(job).toMatchObject({ id: 's5', state: 'dead', data: { id: 's5' }, fingerprint: errorFingerprint(smtp(5)).fingerprint, lastError: { name: 'SmtpError' } });
  });

  it('pages with a cursor that survives the replay of the page before', async () => {
    await story();
    const first = await q.dead.find({ errorName: 'SmtpError' }, { limit: 4 });
    expect(first.jobs.map((j) => j.id)).toEqual(['s0', 's1', 's2', 's3']);
    expect((await q.dead.replay(first.jobs.map((j) => j.id))).done).toHaveLength(4);
    const second = await q.dead.find({ errorName: 'SmtpError' }, { limit: 4, cursor: first.cursor! });
    expect(second.jobs.map((j) => j.id)).toEqual(['s4', 's5', 's6', 's7']);
    const last = await q.dead.find({ errorName: 'SmtpError' }, { limit: 4, cursor: second.cursor! });
    expect(last.jobs.map((j) => j.id)).toEqual(['s8', 's9']);
    expect(last.cursor).toBeUndefined();
  });

  it('walks thousands of jobs that died in the same millisecond, each once', async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `same-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < ids.length; i += 500) await s.admin.zadd(s.keys.dead, ...ids.slice(i, i + 500).flatMap((id) => [1_700_000_000_000, id]));
    await die('later', typeError);
    expect(await q.dead.count({})).toBe(2501);
    const groups = await q.dead.groups();
    expect(groups.map((g) => [g.name, g.count])).toEqual([['', 2500], ['TypeError', 1]]);
  });

  it('are refused with an InvalidOptionError naming the field, before anything is read or written', async () => {
    await story();
    const bad: [unknown, string][] = [
      [{ errorname: 'x' }, 'filter.errorname'],
      [{ ids: [] }, 'filter.ids'],
      [{ ids: ['ok', ''] }, 'filter.ids[1]'],
      [{ message: '' }, 'filter.message'],
      [{ message: 42 }, 'filter.message'],
      [{ fingerprint: 'XYZ' }, 'filter.fingerprint'],
      [{ olderThanMs: -1 }, 'filter.olderThanMs'],
      [{ newerThanMs: 1.5 }, 'filter.newerThanMs'],
      ['soon', 'filter'],
    ];
    for (const [filter, option] of bad) {
      const f = filter as DeadLetterFilter;
      const calls: (() => Promise<unknown>)[] = [() => q.dead.find(f), () => q.dead.count(f), () => q.dead.groups(f), () => q.dead.createRedrive(f)];
      // (a string given to replay or purge is a job id)
      if (typeof filter !== 'string') calls.push(() => q.dead.purge(f), () => q.dead.replay(f));
      for (const call of calls) await expect(call()).rejects.toMatchObject({ name: 'InvalidOptionError', option });
    }
    await expect(q.dead.find({}, { cursor: 'not-a-cursor' })).rejects.toMatchObject({ option: 'page.cursor' });
    // an empty filter matches every dead job: replay and purge want that said ('all')
    await expect(q.dead.purge({})).rejects.toMatchObject({ option: 'ids', message: expect.stringMatching(/pass 'all'/) });
    await expect(q.dead.replay({})).rejects.toMatchObject({ option: 'ids' });
    await expect(q.dead.runRedrive({ ratePerSec: 0 })).rejects.toMatchObject({ option: 'options.ratePerSec' });
    expect(await q.dead.count()).toBe(13);
    expect(await q.dead.redrive()).toBeNull();
  });
});

describe('groups, and replay and purge of a filter', () => {
  it('groups by fingerprint with counts, oldest and newest; purges one group', async () => {
    await story();
    await agedBy('s0', 10_000);
    const groups = await q.dead.groups();
    expect(groups.map((g) => [g.name, g.message, g.frame, g.count])).toEqual([
      ['SmtpError', 'smtp-<n>.example.com refused (<n>)', 'sendMail (mail.js)', 10],
      ['TypeError', "Cannot read properties of undefined (reading <str>)", 'render (template.js)', 3],
    ]);
    const [smtpGroup, typeGroup] = groups;
    expect(smtpGroup!.newest - smtpGroup!.oldest).toBeGreaterThanOrEqual(10_000);
    expect(smtpGroup!.sample.id).toBe('s9');
    expect(await q.dead.purge({ fingerprint: typeGroup!.fingerprint })).toEqual({ done: ['t0', 't1', 't2'], notDead: [], notFound: [], changed: [] });
    expect(await q.getJob('t0')).toBeNull();
    expect(await q.dead.count()).toBe(10);
  });

  it('replays a filter in the death it matched: a job replayed and dead again meanwhile is left', async () => {
    const died = await die('a', smtp(1));
    await die('b', smtp(2));
    // someone replays `a`, and it dies again, of another error, after it was matched
    await q.dead.replay('a');
    const { jobs } = await s.lease(1, 30_000);
    await s.call('fail', { id: 'a', token: jobs[0]!.token, dead: true, delayMs: 0, error: encode({ ...typeError, attempt: 1 }), dedup: '' });
    if ((await s.admin.zscore(s.keys.dead, 'a')) !== died) {
      expect(await s.call('replay', { ids: [{ id: 'a', died }] })).toEqual([ResultCode.STALE]);
    }
    // matched again now, `a` is no SmtpError any more
    expect(await q.dead.replay({ errorName: 'SmtpError' })).toEqual({ done: ['b'], notDead: [], notFound: [], changed: [] });
    expect(await q.dead.count()).toBe(1);
  });
});

describe('the redrive task', () => {
  it('replays at the rate asked, and refuses a second task while one is unfinished', async () => {
    for (let i = 0; i < 10; i++) await die(`r${i}`, smtp(i));
    const task = await q.dead.createRedrive({ errorName: 'SmtpError' });
    expect(task).toMatchObject({ status: 'active', total: 10, replayed: 0, skipped: 0, left: 10, filter: { errorName: 'SmtpError' } });
    await expect(q.dead.createRedrive({})).rejects.toMatchObject({ name: 'RedriveError', reason: 'exists', code: 'REDRIVE_REFUSED' });
    const seen: number[] = [];
    const started = performance.now();
    const done = await q.dead.runRedrive({ ratePerSec: 20, onProgress: (t) => seen.push(t.replayed) });
    const elapsed = performance.now() - started;
    expect(done).toMatchObject({ id: task.id, status: 'done', total: 10, replayed: 10, skipped: 0, left: 0 });
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.createdAt);
    // 2 per call at 20/s: 5 calls, the last one 400 ms after the first
    expect(seen).toEqual([2, 4, 6, 8, 10]);
    expect(elapsed).toBeGreaterThanOrEqual(400 - 10);
    expect(await q.counts()).toMatchObject({ ready: 10, dead: 0 });
    expect(await s.admin.zrange(s.keys.prio, 0, -1)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
    // a done task is replaced by the next one
    expect((await q.dead.createRedrive({})).total).toBe(0);
  });

  it('interrupted and resumed, replays each job once: not one that died again, nor one whose death changed', async () => {
    for (let i = 0; i < 8; i++) await die(`j${i}`, smtp(i));
    const task = await q.dead.createRedrive({ fingerprint: errorFingerprint(smtp(0)).fingerprint });
    const stop = new AbortController();
    const first = await q.dead.runRedrive({ ratePerSec: 10, signal: stop.signal, onProgress: (t) => t.replayed >= 3 && stop.abort() });
    expect(first).toMatchObject({ status: 'active', replayed: 3, left: 5 });
    // the three replayed jobs run and die again, of the same error (they match the filter again)
    for (const id of ['j0', 'j1', 'j2']) {
      const { jobs } = await s.lease(1, 30_000);
      expect(jobs[0]!.id).toBe(id);
      await s.call('fail', { id, token: jobs[0]!.token, dead: true, delayMs: 0, error: encode({ ...smtp(0), attempt: 1 }), dedup: '' });
    }
    // j5 is replayed by someone else and dies again before the task reaches it
    await q.dead.replay('j5');
    const { jobs } = await s.lease(1, 30_000);
    await s.call('fail', { id: 'j5', token: jobs[0]!.token, dead: true, delayMs: 0, error: encode({ ...smtp(5), attempt: 1 }), dedup: '' });
    const resumed = await q.dead.runRedrive();
    expect(resumed).toMatchObject({ id: task.id, status: 'done', total: 8, replayed: 7, skipped: 1, left: 0 });
    // (die() gives its jobs a priority: they wait in `prio`)
    expect((await s.admin.zrange(s.keys.prio, 0, -1)).sort()).toEqual(['j3', 'j4', 'j6', 'j7']);
    expect((await s.admin.zrange(s.keys.dead, 0, -1)).sort()).toEqual(['j0', 'j1', 'j2', 'j5']);
    // the stream says the same: j0..j7 replayed once each by the task (j5 once by hand)
    const replayed = new Map<string, number>();
    for await (const e of q.events({ from: '0' })) {
      if (e.type === 'replayed') replayed.set(e.jobId, (replayed.get(e.jobId) ?? 0) + 1);
      if (e.jobId === 'j7' && e.type === 'replayed') break;
    }
    expect(Object.fromEntries(replayed)).toEqual({ j0: 1, j1: 1, j2: 1, j3: 1, j4: 1, j5: 1, j6: 1, j7: 1 });
  });

  it('a task left preparing replays nothing and is replaced; a dropped task stops its runner', async () => {
    await die('p', smtp(1));
    await s.call('redriveBuild', { task: 'half', create: true, seal: false, filter: '{}', jobs: [{ id: 'p', died: (await s.admin.zscore(s.keys.dead, 'p'))! }] });
    expect(await q.dead.redrive()).toMatchObject({ id: 'half', status: 'preparing', left: 1 });
    await expect(q.dead.runRedrive()).rejects.toMatchObject({ reason: 'preparing' });
    expect(await q.dead.count()).toBe(1);
    const task = await q.dead.createRedrive({});
    expect(task).toMatchObject({ status: 'active', total: 1 });
    expect(await q.dead.dropRedrive()).toBe(true);
    expect(await q.dead.dropRedrive()).toBe(false);
    await expect(q.dead.runRedrive()).rejects.toBeInstanceOf(RedriveError);
    expect(await q.dead.count()).toBe(1);
  });
});

describe('queue stats and discovery', () => {
  it('counts, the oldest waiting job and the last minute from the events stream', async () => {
    const empty = await q.stats();
    expect(empty).toMatchObject({ oldestWaiting: null, recent: { completed: 0, completedPerSec: 0 } });
    const ids = await q.addBulk([{ data: 1 }, { data: 2 }, { data: 3 }, { data: 4 }, { data: 5 }]);
    const worker = s.trackWorker(new Worker(s.name, async () => 'ok', { connection: s.url }));
    await waitFor(async () => (await q.stats()).recent?.completed === 5, 5000, 'five completions in the stream');
    await worker.close();
    const late = await q.add({ late: true });
    const st = await q.stats();
    expect(st.counts).toMatchObject({ ready: 1, dead: 0, paused: false });
    expect(st.oldestWaiting).toMatchObject({ id: late });
    expect(st.oldestWaiting!.ageMs).toBeGreaterThanOrEqual(0);
    expect(st.recent).toMatchObject({ windowMs: 60_000, coveredMs: 60_000, added: 6, completed: 5, failed: 0, dead: 0 });
    expect(st.recent!.completedPerSec).toBeCloseTo(5 / 60, 5);
    expect(ids).toHaveLength(5);
    await q.setPolicy({ eventsMaxLen: 0 });
    expect((await q.stats()).recent).toBeNull();
    await expect(q.stats({ windowMs: 0 })).rejects.toMatchObject({ option: 'options.windowMs' });
  });

  it('finds queues with SCAN, marked by their jobs, meta or schedules', async () => {
    const prefix = `find-${s.name}`;
    const withJob = s.track(new Queue('orders', { connection: s.url, prefix }));
    const paused = s.track(new Queue('paused-only', { connection: s.url, prefix }));
    const never = s.track(new Queue('never-used', { connection: s.url, prefix }));
    s.defer(() => cleanupPrefix(s.admin, `${prefix}:`));
    await withJob.add({ n: 1 });
    await paused.pause();
    expect(await findQueues({ connection: s.url, prefix })).toEqual(['orders', 'paused-only']);
    expect([await withJob.exists(), await paused.exists(), await never.exists()]).toEqual([true, true, false]);
    await expect(findQueues({ connection: s.url, prefix: 'bad{prefix' })).rejects.toMatchObject({ option: 'prefix' });
  });
});
