// Retries with backoff and the dead-letter queue: attempts, measured gaps, the error history
// kept with a dead job, non-Error throws, and the operator's replay / purge.
import { HandlerError, Queue, Worker, type JobError } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, sleep, waitFor } from '../support/behaviour.js';

/** Clock tolerance between Node's timer and the Redis clock, in ms. */
const TOLERANCE_MS = 5;

let s: Scope;
beforeEach(() => {
  s = new Scope('retry-dlq');
});
afterEach(async () => {
  await s.dispose();
});

const gapsOf = (times: number[]): number[] => times.slice(1).map((t, i) => t - times[i]!);

/** A worker whose handler always throws `boom <attempt>`, recording when each run started. */
function failingWorker(options: ConstructorParameters<typeof Worker>[2] = {}) {
  const runs: { attempt: number; at: number }[] = [];
  const retried: number[] = [];
  const dead: string[] = [];
  const worker = s.trackWorker(
    new Worker(
      s.name,
      (job) => {
        runs.push({ attempt: job.attempt, at: performance.now() });
        throw new Error(`boom ${job.attempt}`);
      },
      { connection: s.url, ...options },
    ),
  );
  worker.on('retried', (_job, _err, delayMs) => retried.push(delayMs));
  worker.on('dead', (job) => dead.push(job.id));
  return { runs, retried, dead, worker };
}

describe('retries with backoff', () => {
  it('runs an always-failing job exactly `attempts` times, each retry at least the fixed backoff later', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { runs, retried, dead } = failingWorker();
    const before = Date.now();
    const id = await q.add({ to: 'a@example.com' }, { attempts: 3, backoff: { type: 'fixed', delayMs: 200, jitter: 0 } });
    await waitFor(() => dead.length === 1, 5000, 'the job to be dead-lettered');
    // dead is final (nothing ready, delayed or leased, checked below): no 4th run can follow
    expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(retried).toEqual([200, 200]);
    for (const gap of gapsOf(runs.map((r) => r.at))) expect(gap).toBeGreaterThanOrEqual(200 - TOLERANCE_MS);

    // the job is in the DLQ with its whole history
    expect(dead).toEqual([id]);
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 1 });
    expect(await q.dead.count()).toBe(1);
    expect((await q.dead.list()).map((j) => j.id)).toEqual([id]);
    const job = await q.dead.get(id);
    expect(job).not.toBeNull();
    expect(job).toMatchObject({ id, state: 'dead', data: { to: 'a@example.com' }, attempts: 3, attemptsMade: 3 });
    const errors = job!.errors;
    expect(errors.map((e) => [e.name, e.message, e.attempt])).toEqual([
      ['Error', 'boom 1', 1],
      ['Error', 'boom 2', 2],
      ['Error', 'boom 3', 3],
    ]);
    for (const e of errors) {
      expect(e.stack).toContain(`Error: ${e.message}`);
      expect(e.stack).toContain('retry-dlq.test.ts');
    }
    expect(job!.lastError).toEqual(errors[2]);
    expect(job!.stateSince).toBeGreaterThanOrEqual(before - 1000);
    expect(job!.stateSince).toBeLessThanOrEqual(Date.now() + 1000);
    expect(await q.getJob(id)).toEqual(job);
  });

  it('stamps each error entry with the time it was recorded (Redis clock, ms since epoch)', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { dead } = failingWorker();
    const before = Date.now();
    const id = await q.add({}, { attempts: 2, backoff: { type: 'fixed', delayMs: 100, jitter: 0 } });
    await waitFor(() => dead.length === 1, 5000, 'the job to be dead-lettered');
    const job = await q.dead.get(id);
    const at = job!.errors.map((e) => e.at);
    expect(at).toHaveLength(2);
    for (const t of at) {
      expect(typeof t).toBe('number');
      expect(t).toBeGreaterThanOrEqual(before - 1000);
      expect(t).toBeLessThanOrEqual(Date.now() + 1000);
    }
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(100);
    expect(job!.stateSince).toBeGreaterThanOrEqual(at[1]!);
  });

  it('doubles the wait with exponential backoff', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { runs, retried, dead } = failingWorker();
    await q.add({}, { attempts: 4, backoff: { type: 'exponential', delayMs: 120, jitter: 0 } });
    await waitFor(() => dead.length === 1, 5000, 'the job to be dead-lettered');
    expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3, 4]);
    expect(retried).toEqual([120, 240, 480]);
    const gaps = gapsOf(runs.map((r) => r.at));
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(retried[i]! - TOLERANCE_MS));
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]).toBeGreaterThan(gaps[1]!);
  });

  it('caps exponential backoff at maxDelayMs', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { retried, dead } = failingWorker();
    await q.add({}, { attempts: 4, backoff: { type: 'exponential', delayMs: 50, maxDelayMs: 120, jitter: 0 } });
    await waitFor(() => dead.length === 1, 5000, 'the job to be dead-lettered');
    expect(retried).toEqual([50, 100, 120]);
  });

  it("uses the worker's backoff function instead of the job's backoff", async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const calls: [number, string][] = [];
    const { runs, retried, dead } = failingWorker({
      backoff: (attempt: number, error: Error) => {
        calls.push([attempt, error.message]);
        return 30;
      },
    });
    // the job's own backoff would hold the second run back for a minute
    await q.add({}, { attempts: 3, backoff: { type: 'fixed', delayMs: 60_000, jitter: 0 } });
    await waitFor(() => dead.length === 1, 3000, 'the job to be dead-lettered with the short backoff');
    expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(calls).toEqual([
      [1, 'boom 1'],
      [2, 'boom 2'],
    ]);
    expect(retried).toEqual([30, 30]);
    for (const gap of gapsOf(runs.map((r) => r.at))) expect(gap).toBeGreaterThanOrEqual(30 - TOLERANCE_MS);
  });

  it('retries at once when the backoff function throws, and reports the throw', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { runs, retried, dead, worker } = failingWorker({
      backoff: () => {
        throw new Error('bad backoff');
      },
    });
    const errors: Error[] = [];
    worker.on('error', (e) => errors.push(e));
    await q.add({}, { attempts: 2, backoff: { type: 'fixed', delayMs: 60_000, jitter: 0 } });
    await waitFor(() => dead.length === 1, 3000, 'the job to be dead-lettered');
    expect(runs).toHaveLength(2);
    expect(retried).toEqual([0]);
    expect(errors.map((e) => e.message)).toEqual(['bad backoff']);
  });

  it('counts an expired lease as an attempt: the last one sends the job to the DLQ with a LeaseExpired error', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 }, { attempts: 2, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
    // a worker leases it and dies: the lease expires and the next lease call reclaims it
    expect((await s.lease(1, 100)).jobs.map((j) => j.id)).toEqual([id]);
    await s.waitLeaseExpired(id);
    const second = await s.lease(1, 100);
    expect(second.jobs.map((j) => [j.id, j.attempt])).toEqual([[id, 2]]);
    expect((await q.getJob(id))?.errors.map((e) => [e.name, e.attempt])).toEqual([['LeaseExpired', 1]]);
    await s.waitLeaseExpired(id);
    await s.lease(0, 100);
    const dead = await q.dead.get(id);
    expect(dead).toMatchObject({ state: 'dead', attemptsMade: 2 });
    expect(dead?.errors.map((e) => [e.name, e.attempt])).toEqual([
      ['LeaseExpired', 1],
      ['LeaseExpired', 2],
    ]);
  });
});

describe('handlers that throw something that is not an Error', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['a string', () => 'provider is down', /provider is down/],
    ['an object', () => ({ code: 503, reason: 'unavailable' }), /\{"code":503,"reason":"unavailable"\}/],
    ['undefined', () => undefined, /undefined/],
    ['null', () => null, /null/],
    ['a number', () => 42, /42/],
  ];

  it.each(cases)('fails cleanly with a readable HandlerError when it throws %s', async (_what, thrown, readable) => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const failures: Error[] = [];
    let calls = 0;
    const w = s.trackWorker(
      new Worker(
        s.name,
        async (job) => {
          calls++;
          // the first job throws synchronously from an async function, the second rejects later
          if (job.data === 'later') await sleep(5);
          throw thrown();
        },
        { connection: s.url },
      ),
    );
    const errors: Error[] = [];
    w.on('failed', (_job, err) => failures.push(err));
    w.on('error', (e) => errors.push(e));
    const ids = [await q.add('now', { attempts: 1 }), await q.add('later', { attempts: 1 })];
    await waitFor(async () => (await q.counts()).dead === 2, 3000, 'both jobs to be dead-lettered');
    expect(calls).toBe(2);
    expect(errors).toEqual([]);
    for (const err of failures) {
      expect(err).toBeInstanceOf(HandlerError);
      expect(err).toMatchObject({ code: 'HANDLER_FAILED' });
      expect(err.message).toMatch(readable);
      expect(err.cause).toEqual(thrown());
    }
    for (const id of ids) {
      const last = (await q.dead.get(id))?.lastError as JobError;
      expect(last.name).toBe('HandlerError');
      expect(last.message).toMatch(readable);
      expect(last.attempt).toBe(1);
    }
  });

  it('fails cleanly when a plain (non-async) handler throws synchronously', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    s.trackWorker(
      new Worker(
        s.name,
        () => {
          throw 'sync string';
        },
        { connection: s.url },
      ),
    );
    const id = await q.add({}, { attempts: 1 });
    await waitFor(async () => (await q.counts()).dead === 1, 3000, 'the job to be dead-lettered');
    expect((await q.dead.get(id))?.lastError).toMatchObject({ name: 'HandlerError', message: expect.stringMatching(/sync string/) });
  });
});

describe('dead-letter queue administration', () => {
  /** Adds `n` jobs that fail once and die (attempts 1) while `healthy` is false. */
  async function deadJobs(q: Queue, n: number, health: { healthy: boolean }, done: string[], keepCompleted = false) {
    await q.setPolicy({ keepCompleted });
    const w = s.trackWorker(
      new Worker(
        s.name,
        (job) => {
          if (!health.healthy) throw new Error('provider down');
          done.push(`${job.id}@${job.attempt}`);
          return 'sent';
        },
        { connection: s.url },
      ),
    );
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await q.add({ i }, { attempts: 2, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } }));
    await waitFor(async () => (await q.counts()).dead === n, 3000, `${n} dead jobs`);
    return { ids, w };
  }

  it('replays one dead job with attempts reset; the now-healthy handler completes it', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const health = { healthy: false };
    const done: string[] = [];
    const { ids } = await deadJobs(q, 1, health, done, true);
    const id = ids[0]!;
    expect(await q.dead.get(id)).toMatchObject({ attemptsMade: 2, errors: [{ message: 'provider down' }, { message: 'provider down' }] });

    await q.pause(); // hold it in ready to look at it
    expect(await q.dead.replay(id)).toEqual({ done: [id], notDead: [], notFound: [], changed: [] });
    const replayed = await q.getJob(id);
    expect(replayed).toMatchObject({ state: 'ready', attemptsMade: 0, attempts: 2, data: { i: 0 } });
    expect(await q.dead.get(id)).toBeNull();
    expect(await q.counts()).toMatchObject({ ready: 1, dead: 0 });

    health.healthy = true;
    await q.resume();
    // the handler's side effect shows before its ack lands: wait for the state in Redis
    await waitFor(async () => (await q.getJob(id))?.state === 'completed', 3000, 'the replayed job to complete');
    expect(done).toEqual([`${id}@1`]);
    expect(await q.getJob(id)).toMatchObject({ state: 'completed', result: 'sent', attemptsMade: 1 });
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, dead: 0, completed: 1 });
  });

  it("replays 'all' dead jobs", async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const health = { healthy: false };
    const done: string[] = [];
    const { ids } = await deadJobs(q, 3, health, done);
    expect((await q.dead.list()).map((j) => j.id).sort()).toEqual([...ids].sort());
    health.healthy = true;
    const res = await q.dead.replay('all');
    expect(res.done.sort()).toEqual([...ids].sort());
    expect(res.notDead).toEqual([]);
    expect(res.notFound).toEqual([]);
    // the handlers' side effects show before their acks land: wait for the acks in Redis too
    const settled = async () => done.length === 3 && (await q.counts()).leased === 0;
    await waitFor(settled, 3000, 'the replayed jobs to complete');
    expect(done.sort()).toEqual(ids.map((id) => `${id}@1`).sort());
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, dead: 0 });
    expect(await q.dead.replay('all')).toEqual({ done: [], notDead: [], notFound: [], changed: [] });
  });

  it("purges one dead job, then 'all'", async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { ids } = await deadJobs(q, 3, { healthy: false }, []);
    const [first, ...rest] = ids as [string, ...string[]];
    expect(await q.dead.purge(first)).toEqual({ done: [first], notDead: [], notFound: [], changed: [] });
    expect(await q.getJob(first)).toBeNull();
    expect(await q.dead.count()).toBe(2);
    const all = await q.dead.purge('all');
    expect(all.done.sort()).toEqual([...rest].sort());
    for (const id of ids) expect(await q.getJob(id)).toBeNull();
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0 });
    expect(await q.dead.list()).toEqual([]);
    // purged for good: a replay finds nothing
    expect(await q.dead.replay(first)).toEqual({ done: [], notDead: [], notFound: [first], changed: [] });
  });

  it('reports notDead for jobs that exist but are not dead, and notFound for unknown ids', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { ids } = await deadJobs(q, 1, { healthy: false }, []);
    const deadId = ids[0]!;
    await q.pause();
    const readyId = await q.add({ ready: true });
    const delayedId = await q.add({ later: true }, { delayMs: 60_000 });

    for (const op of ['replay', 'purge'] as const) {
      expect(await q.dead[op](readyId)).toEqual({ done: [], notDead: [readyId], notFound: [], changed: [] });
      expect(await q.dead[op]([delayedId])).toEqual({ done: [], notDead: [delayedId], notFound: [], changed: [] });
      expect(await q.dead[op]('no-such-job')).toEqual({ done: [], notDead: [], notFound: ['no-such-job'], changed: [] });
    }
    expect(await q.getJob(readyId)).toMatchObject({ state: 'ready' });
    expect(await q.getJob(delayedId)).toMatchObject({ state: 'delayed' });

    // a mixed list is sorted into the three outcomes
    expect(await q.dead.replay([readyId, 'nope', deadId])).toEqual({ done: [deadId], notDead: [readyId], notFound: ['nope'], changed: [] });
    expect(await q.counts()).toMatchObject({ ready: 2, delayed: 1, dead: 0 });
  });
});
