// Jobs as the producer sees them: getJob states, delays, idempotent custom ids, remove in
// every state, completed-job retention, undecodable records, and pickup latency.
import { Queue, Worker } from 'kyoo';
import { encodeRecord } from '@kyoo/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, enqueueEntry, median, record, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('jobs');
});
afterEach(async () => {
  await s.dispose();
});

const queue = <T = unknown>() => s.track(new Queue<T>(s.name, { connection: s.url }));

describe('getJob', () => {
  it('reports a ready job', async () => {
    const q = queue<{ a: number }>();
    const before = Date.now();
    const id = await q.add({ a: 1 }, { attempts: 4 });
    const job = await q.getJob(id);
    expect(job).toMatchObject({ id, state: 'ready', data: { a: 1 }, attempts: 4, attemptsMade: 0, errors: [] });
    expect(job!.createdAt).toBeGreaterThanOrEqual(before);
    expect(job!.createdAt).toBeLessThanOrEqual(Date.now());
    expect(job!.lastError).toBeUndefined();
    expect(job!.decodeError).toBeUndefined();
  });

  it('keeps each job\'s own options when jobs with and without them are added in one tick, on two queues', async () => {
    // jobs with a queue's default options added in one millisecond share one encoded header
    const q = queue<{ n: number }>();
    const other = s.track(new Queue<{ n: number }>(`${s.name}-other`, { connection: s.url, defaultJobOptions: { attempts: 9, timeoutMs: 500 } }));
    const ids = await Promise.all([
      q.add({ n: 0 }), q.add({ n: 1 }, { attempts: 7 }), other.add({ n: 2 }), q.add({ n: 3 }),
      q.add({ n: 4 }, { timeoutMs: 250 }), other.add({ n: 5 }), q.add({ n: 6 }, { group: 'g' }), q.add({ n: 7 }),
    ]);
    const from = [q, q, other, q, q, other, q, q];
    const jobs = await Promise.all(ids.map((id, i) => from[i]!.getJob(id)));
    expect(jobs.map((j) => j!.data.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(jobs.map((j) => j!.attempts)).toEqual([3, 7, 9, 3, 3, 9, 3, 3]);
    expect(jobs.map((j) => j!.timeoutMs ?? 0)).toEqual([0, 0, 500, 0, 250, 500, 0, 0]);
    expect(jobs.map((j) => j!.group ?? '')).toEqual(['', '', '', '', '', '', 'g', '']);
    for (const j of jobs) expect(Math.abs(j!.createdAt - Date.now())).toBeLessThan(5000);
    await s.admin.del(...Object.values(other.keys));
  });

  it('returns null for an unknown id', async () => {
    expect(await queue().getJob('no-such-job')).toBeNull();
  });

  it('reports a delayed job with its run-at time', async () => {
    const q = queue();
    const before = Date.now();
    const id = await q.add({}, { delayMs: 60_000 });
    const job = await q.getJob(id);
    expect(job).toMatchObject({ state: 'delayed', attemptsMade: 0 });
    expect(job!.stateSince).toBeGreaterThanOrEqual(before + 60_000 - 1000);
    expect(job!.stateSince).toBeLessThanOrEqual(Date.now() + 60_000 + 1000);
  });

  it('reports a leased job with its lease deadline and the attempt under way', async () => {
    const q = queue();
    const gate = deferred();
    const started = deferred();
    s.trackWorker(
      new Worker(
        s.name,
        async () => {
          started.resolve();
          await gate.promise;
        },
        { connection: s.url, leaseMs: 5000 },
      ),
    );
    const id = await q.add({});
    await started.promise;
    const job = await q.getJob(id);
    expect(job).toMatchObject({ state: 'leased', attemptsMade: 1 });
    expect(job!.stateSince).toBeGreaterThan(Date.now() + 3000);
    expect(job!.stateSince).toBeLessThanOrEqual(Date.now() + 5000 + 1000);
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 1 });
    gate.resolve();
  });

  it('reports a dead job with its error', async () => {
    const q = queue();
    s.trackWorker(
      new Worker(
        s.name,
        () => {
          throw new Error('nope');
        },
        { connection: s.url },
      ),
    );
    const id = await q.add({}, { attempts: 1 });
    await waitFor(async () => (await q.getJob(id))?.state === 'dead', 2000, 'the job to die');
    expect(await q.getJob(id)).toMatchObject({ state: 'dead', attemptsMade: 1, lastError: { message: 'nope', attempt: 1 } });
  });

  it('reports a completed job with its result when the worker keeps completed jobs', async () => {
    const q = queue<{ x: number }>();
    await q.setPolicy({ keepCompleted: true });
    s.trackWorker(new Worker<{ x: number }>(s.name, (job) => ({ doubled: job.data.x * 2 }), { connection: s.url }));
    const id = await q.add({ x: 21 });
    await waitFor(async () => (await q.getJob(id))?.state === 'completed', 2000, 'the job to complete');
    const job = await q.getJob(id);
    expect(job).toMatchObject({ state: 'completed', data: { x: 21 }, result: { doubled: 42 }, attemptsMade: 1, errors: [] });
    expect(job!.stateSince).toBeLessThanOrEqual(Date.now() + 1000);
    expect(await q.counts()).toMatchObject({ completed: 1, ready: 0, leased: 0 });
  });

  it('returns null for a completed job by default (completed jobs are removed)', async () => {
    const q = queue();
    const completed: string[] = [];
    const w = s.trackWorker(new Worker(s.name, () => 'result', { connection: s.url }));
    w.on('completed', (job) => completed.push(job.id));
    const id = await q.add({});
    await waitFor(() => completed.length === 1, 2000, 'the job to complete');
    expect(await q.getJob(id)).toBeNull();
    expect(await q.counts()).toMatchObject({ completed: 0, ready: 0, leased: 0, dead: 0 });
  });

  it('counts attempts made across a retry', async () => {
    const q = queue();
    await q.setPolicy({ keepCompleted: true });
    s.trackWorker(
      new Worker(
        s.name,
        (job) => {
          if (job.attempt === 1) throw new Error('first run fails');
          return 'second run ok';
        },
        { connection: s.url },
      ),
    );
    const id = await q.add({}, { attempts: 3, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
    await waitFor(async () => (await q.getJob(id))?.state === 'completed', 2000, 'the job to complete');
    const job = await q.getJob(id);
    expect(job).toMatchObject({ attemptsMade: 2, result: 'second run ok' });
    expect(job!.errors.map((e) => [e.message, e.attempt])).toEqual([['first run fails', 1]]);
  });
});

describe('delayed jobs', () => {
  /** Starts a worker that records when each job started (ms since epoch); resolves once it is idle, blocked in BLPOP. */
  async function startTimes(): Promise<Map<string, number>> {
    const at = new Map<string, number>();
    s.trackWorker(new Worker(s.name, (job) => void at.set(job.id, Date.now()), { connection: s.named('w') }));
    await s.waitBlocked('w');
    return at;
  }

  it('runs a job with delayMs no sooner than the delay, and soon after it', async () => {
    const q = queue();
    const at = await startTimes();
    const added = Date.now();
    const id = await q.add({}, { delayMs: 300 });
    expect((await q.getJob(id))?.state).toBe('delayed');
    await waitFor(() => at.has(id), 2000, 'the delayed job to run');
    const ranAfter = at.get(id)! - added;
    expect(ranAfter).toBeGreaterThanOrEqual(300 - 5);
    expect(ranAfter).toBeLessThan(300 + 250);
  });

  it('runs a job with runAt no sooner than that time, and soon after it', async () => {
    const q = queue();
    const at = await startTimes();
    const runAt = new Date(Date.now() + 300);
    const id = await q.add({}, { runAt });
    await waitFor(() => at.has(id), 2000, 'the scheduled job to run');
    expect(at.get(id)!).toBeGreaterThanOrEqual(runAt.getTime() - 5);
    expect(at.get(id)!).toBeLessThan(runAt.getTime() + 250);
  });

  it('runs a job whose runAt is in the past at once', async () => {
    const q = queue();
    const at = await startTimes();
    const added = Date.now();
    const id = await q.add({}, { runAt: Date.now() - 60_000 });
    await waitFor(() => at.has(id), 1000, 'the job to run');
    expect(at.get(id)! - added).toBeLessThan(200);
  });

  it('does not hold up ready jobs, and runs delayed ones in run-at order', async () => {
    const q = queue();
    const order: string[] = [];
    s.trackWorker(new Worker(s.name, (job) => void order.push(job.id), { connection: s.url }));
    const late = await q.add({}, { jobId: 'late', delayMs: 400 });
    const early = await q.add({}, { jobId: 'early', delayMs: 200 });
    const now = await q.add({}, { jobId: 'now' });
    await waitFor(() => order.length === 3, 2000, 'all three jobs');
    expect(order).toEqual([now, early, late]);
  });
});

describe('custom job ids', () => {
  it('makes add idempotent: the second add changes nothing and resolves with the same id', async () => {
    const q = queue<{ v: number }>();
    expect(await q.add({ v: 1 }, { jobId: 'order-1' })).toBe('order-1');
    expect(await q.add({ v: 2 }, { jobId: 'order-1', attempts: 9 })).toBe('order-1');
    expect(await q.getJob('order-1')).toMatchObject({ data: { v: 1 }, attempts: 3, state: 'ready' });
    // in one tick and in one addBulk as well
    expect(await Promise.all([q.add({ v: 1 }, { jobId: 'order-2' }), q.add({ v: 2 }, { jobId: 'order-2' })])).toEqual(['order-2', 'order-2']);
    expect(await q.addBulk([{ data: { v: 1 }, opts: { jobId: 'order-3' } }, { data: { v: 2 }, opts: { jobId: 'order-3' } }])).toEqual([
      'order-3',
      'order-3',
    ]);
    expect(await q.getJob('order-2')).toMatchObject({ data: { v: 1 } });
    expect(await q.getJob('order-3')).toMatchObject({ data: { v: 1 } });
    expect(await q.counts()).toMatchObject({ ready: 3 });

    const runs: string[] = [];
    const completed: string[] = [];
    const w = s.trackWorker(new Worker<{ v: number }>(s.name, (job) => void runs.push(`${job.id}:${job.data.v}`), { connection: s.url }));
    w.on('completed', (job) => completed.push(job.id));
    await waitFor(() => completed.length === 3, 2000, 'the three jobs to complete');
    expect(runs).toEqual(['order-1:1', 'order-2:1', 'order-3:1']);
    // final: all three acked and removed, nothing left that could run a second copy
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0, leased: 0 });
  });

  it('is idempotent while the job is leased or dead as well', async () => {
    const q = queue<{ v: number }>();
    const gate = deferred();
    const runs: string[] = [];
    s.trackWorker(
      new Worker<{ v: number }>(
        s.name,
        async (job) => {
          runs.push(`${job.id}:${job.data.v}`);
          await gate.promise;
          throw new Error('dies');
        },
        { connection: s.url },
      ),
    );
    await q.add({ v: 1 }, { jobId: 'x', attempts: 1 });
    await waitFor(() => runs.length === 1, 2000, 'the job to start');
    expect(await q.add({ v: 2 }, { jobId: 'x' })).toBe('x');
    gate.resolve();
    await waitFor(async () => (await q.getJob('x'))?.state === 'dead', 2000, 'the job to die');
    expect(await q.add({ v: 3 }, { jobId: 'x' })).toBe('x');
    // a job added after it runs after anything that add could have queued (one worker, FIFO)
    await q.add({ v: 4 }, { jobId: 'after', attempts: 1 });
    await waitFor(async () => (await q.getJob('after'))?.state === 'dead', 2000, 'the job added afterwards to run');
    expect(runs).toEqual(['x:1', 'after:4']);
    expect(await q.getJob('x')).toMatchObject({ state: 'dead', data: { v: 1 }, attemptsMade: 1 });
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, dead: 2 });
  });
});

describe('queue.remove', () => {
  async function expectGone(q: Queue, id: string): Promise<void> {
    expect(await q.getJob(id)).toBeNull();
    expect(await q.remove(id)).toBe(false);
  }

  it('removes a ready, a delayed, a dead and a completed job', async () => {
    const q = queue();
    const ready = await q.add({});
    const delayed = await q.add({}, { delayMs: 60_000 });
    for (const id of [ready, delayed]) {
      expect(await q.remove(id)).toBe(true);
      await expectGone(q, id);
    }
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0 });

    await q.setPolicy({ keepCompleted: true });
    s.trackWorker(
      new Worker(
        s.name,
        (job) => {
          if ((job.data as { fail?: boolean }).fail) throw new Error('x');
          return 'ok';
        },
        { connection: s.url },
      ),
    );
    const dead = await q.add({ fail: true }, { attempts: 1 });
    const completed = await q.add({});
    await waitFor(async () => (await q.getJob(dead))?.state === 'dead' && (await q.getJob(completed))?.state === 'completed', 2000, 'a dead and a completed job');
    for (const id of [dead, completed]) {
      expect(await q.remove(id)).toBe(true);
      await expectGone(q, id);
    }
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0, completed: 0 });
    expect(await q.dead.list()).toEqual([]);
  });

  it('removes a leased job: the worker holding it has its ack refused, and nothing comes back', async () => {
    const q = queue();
    const gate = deferred();
    const started = deferred();
    const w = s.trackWorker(
      new Worker(
        s.name,
        async () => {
          started.resolve();
          await gate.promise;
          return 'done anyway';
        },
        // no heartbeat inside this test, so the ack is what meets the removal
        { connection: s.url, leaseMs: 5000, heartbeatMs: 4999 },
      ),
    );
    const errors: Error[] = [];
    let completed = 0;
    w.on('error', (e) => errors.push(e));
    w.on('completed', () => completed++);
    const id = await q.add({});
    await started.promise;
    expect(await q.remove(id)).toBe(true);
    gate.resolve();
    await waitFor(() => errors.length > 0, 2000, 'the refused ack');
    expect(errors[0]).toMatchObject({ name: 'LeaseLostError', code: 'LEASE_LOST', jobId: id, operation: 'ack' });
    expect(completed).toBe(0);
    await expectGone(q, id);
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, dead: 0, completed: 0 });
  });
});

describe('keepCompleted', () => {
  it('keeps the newest `count` completed jobs, trimming the oldest', async () => {
    const q = queue<{ n: number }>();
    await q.setPolicy({ keepCompleted: { count: 3 } });
    const done: string[] = [];
    const w = s.trackWorker(new Worker<{ n: number }>(s.name, (job) => job.data.n, { connection: s.url }));
    w.on('completed', (job) => done.push(job.id));
    // ids that sort as strings in add order: jobs completed in the same millisecond tie on
    // their score, and ties are the subject of the next test, not this one
    const ids = await q.addBulk(Array.from({ length: 12 }, (_, n) => ({ data: { n }, opts: { jobId: `job-${String(n).padStart(2, '0')}` } })));
    await waitFor(() => done.length === 12, 3000, 'all jobs to complete');
    expect(done).toEqual(ids);
    const kept = (await Promise.all(ids.map((id) => q.getJob(id)))).map((j, i) => (j ? `${ids[i]}=${String(j.result)}` : null));
    expect(kept.filter((k) => k !== null)).toEqual([`${ids[9]}=9`, `${ids[10]}=10`, `${ids[11]}=11`]);
    expect(await q.counts()).toMatchObject({ completed: 3 });
  });

  it('trims the older of two jobs completed in the same millisecond, whatever their ids', async () => {
    // two workers ack one job each, back to back in one MULTI (so within the same millisecond):
    // 'z-first' completes first, 'a-second' after it; with keepCompleted count 1 the second stays,
    // although 'a-second' sorts first as a string (ZPOPMIN's tie-break on equal scores)
    await s.policy({ keepCompleted: { count: 1 } });
    const ids = ['z-first', 'a-second'] as const;
    for (const id of ids) await s.call('enqueue', { allOrNothing: false, reserve: 0, jobs: [enqueueEntry(id, record({ id }))] });
    const { jobs } = await s.lease(2, 30_000);
    expect(jobs.map((j) => j.id)).toEqual(ids);
    const ack = (j: { id: string; token: string }) => ({ n: 0, leaseMs: 1000, rnd: 0, nonce: 'x', worker: '', dedups: '', acks: [{ id: j.id, token: j.token, result: '' }] });
    const multi = s.admin.multi();
    s.scripts.queue(s.admin, multi, 'ack', ack(jobs[0]!));
    s.scripts.queue(s.admin, multi, 'ack', ack(jobs[1]!));
    const res = await multi.zrange(s.keys.done, 0, -1).exec();
    expect(res?.[2]?.[1], 'the job completed second is kept').toEqual([ids[1]]);
    const q = queue();
    expect(await q.getJob(ids[0])).toBeNull();
    expect(await q.getJob(ids[1])).toMatchObject({ state: 'completed' });
  });

  it('drops completed jobs older than ageMs', async () => {
    const q = queue();
    await q.setPolicy({ keepCompleted: { count: 100, ageMs: 200 } });
    const done: string[] = [];
    const w = s.trackWorker(new Worker(s.name, () => 'r', { connection: s.url }));
    w.on('completed', (job) => done.push(job.id));
    const first = await q.add({});
    await waitFor(() => done.length === 1, 2000, 'the first job');
    const kept = await q.getJob(first);
    expect(kept?.state).toBe('completed');
    // older than ageMs by Redis's clock (completion times are Redis's), then the next ack trims
    await waitFor(async () => (await s.redisNow()) > kept!.stateSince! + 200, 2000, 'the first job to be older than ageMs');
    const second = await q.add({});
    await waitFor(() => done.length === 2, 2000, 'the second job');
    expect(await q.getJob(first)).toBeNull();
    expect((await q.getJob(second))?.state).toBe('completed');
  });
});

describe('records that cannot be decoded', () => {
  it('dead-letters a garbage record with a DecodeError and keeps processing other jobs', async () => {
    const q = queue<{ n: number }>();
    const seen: number[] = [];
    const deadEvents: [string, string][] = [];
    const w = s.trackWorker(new Worker<{ n: number }>(s.name, (job) => void seen.push(job.data.n), { connection: s.url }));
    w.on('dead', (job, err) => deadEvents.push([job.id, err.name]));
    await q.add({ n: 1 });
    // written by hand: not a kyoo record at all
    await s.admin.hset(s.keys.jobs, 'garbage-1', 'garbage');
    await s.admin.rpush(s.keys.ready, 'garbage-1');
    await s.admin.rpush(s.keys.wake, '1');
    await q.add({ n: 2 });
    await waitFor(() => seen.length === 2 && deadEvents.length === 1, 2000, 'the good jobs and the dead-letter');
    await q.add({ n: 3 });
    await waitFor(() => seen.length === 3, 2000, 'a job added afterwards');
    expect(seen).toEqual([1, 2, 3]);
    expect(deadEvents).toEqual([['garbage-1', 'DecodeError']]);

    const dead = await q.dead.get('garbage-1');
    expect(dead).toMatchObject({ state: 'dead', attemptsMade: 1, data: undefined });
    expect(dead!.decodeError).toMatch(/^could not decode job record/);
    expect(dead!.lastError).toMatchObject({ name: 'DecodeError', attempt: 1 });
    expect(dead!.lastError!.message).toMatch(/job record/);
    expect(await q.counts()).toMatchObject({ dead: 1, ready: 0, leased: 0 });
  });

  it('dead-letters a valid record whose payload cannot be decoded', async () => {
    const q = queue();
    const deadEvents: string[] = [];
    const w = s.trackWorker(new Worker(s.name, () => undefined, { connection: s.url }));
    w.on('dead', (_job, err) => deadEvents.push(err.name));
    const record = encodeRecord({
      payload: Buffer.from([0xa5, 0x68]), // a 5-byte string cut after 1 byte
      attempts: 5,
      backoffType: 'fixed',
      backoffMs: 0,
      backoffMaxMs: 0,
      jitter: 0,
      createdAt: Date.now(),
      timeoutMs: 0,
      priority: 0,
      dedupKey: '',
      dedupMode: 0,
    });
    await s.admin.hset(s.keys.jobs, 'bad-payload', record);
    await s.admin.rpush(s.keys.ready, 'bad-payload');
    await s.admin.rpush(s.keys.wake, '1');
    await waitFor(() => deadEvents.length === 1, 2000, 'the dead-letter');
    expect(deadEvents).toEqual(['DecodeError']);
    const dead = await q.dead.get('bad-payload');
    // straight to the DLQ: retrying cannot make the bytes decodable
    expect(dead).toMatchObject({ state: 'dead', attemptsMade: 1, lastError: { name: 'DecodeError' } });
    expect(dead!.lastError!.message).toMatch(/^could not decode job payload/);
  });
});

describe('pickup latency', () => {
  it('starts the handler of an idle worker within 50 ms of add() (no polling)', async () => {
    const q = queue<{ t: number }>();
    const latencies: number[] = [];
    s.trackWorker(new Worker<{ t: number }>(s.name, (job) => void latencies.push(performance.now() - job.data.t), { connection: s.named('w') }));
    for (let i = 0; i < 7; i++) {
      await s.waitBlocked('w'); // idle, blocked on the wake list
      await q.add({ t: performance.now() });
      await waitFor(() => latencies.length === i + 1, 2000, `job ${i + 1}`);
    }
    expect(median(latencies)).toBeLessThan(50);
    expect(Math.max(...latencies)).toBeLessThan(500);
  });
});
