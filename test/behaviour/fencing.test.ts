// Fencing tokens: once a lease has expired and the job was leased again, the old holder's
// ack, fail, extend and release are refused (LEASE_LOST) and change nothing.
import { KEY_LAYOUT, ResultCode, encode, type LeasedJob } from '@kyoo/core';
import { LeaseLostError, Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('fencing');
});
afterEach(async () => {
  await s.dispose();
});

const errBlob = (message: string, attempt: number): Buffer => encode({ name: 'Error', message, stack: '', attempt });
/** An ack call of the given leases that leases nothing back. */
const ackOf = (...leases: { id: string; token: string }[]) => ({
  n: 0, leaseMs: 1000, rnd: 0, nonce: 'x', worker: '', dedups: '', acks: leases.map(({ id, token }) => ({ id, token, result: '' })),
});
const failOf = (id: string, token: string, dead: boolean, delayMs: number, message: string, attempt: number) =>
  ({ id, token, dead, delayMs, error: errBlob(message, attempt), dedup: '' });

/**
 * Everything Redis holds about one job, read through the key module's layout (a hash field,
 * a sorted-set score, a list's whole content, a counter), to show that a refused call
 * changed nothing.
 */
async function snapshot(id: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const { name, type } of KEY_LAYOUT) {
    const key = s.keys[name];
    if (type === 'hash') out[name] = await s.admin.hgetBuffer(key, id);
    else if (type === 'zset') out[name] = await s.admin.zscore(key, id);
    else if (type === 'list') out[name] = await s.admin.lrange(key, 0, -1);
    else if (type === 'stream') out[name] = await s.admin.xrevrange(key, '+', '-', 'COUNT', 1); // no event written either
    else out[name] = await s.admin.get(key);
  }
  return out;
}

interface StalePair {
  id: string;
  stale: LeasedJob;
  current: LeasedJob;
  /** Names in the job's error history after the takeover. */
  historyAfterTakeover: string[];
}

/**
 * Two ways a worker's token goes stale while the job is leased by someone else: the lease
 * expired and the next lease call reclaimed it and leased it again (the case fencing is
 * for), or the lease was released and the job leased again.
 */
const routes: [string, (q: Queue) => Promise<StalePair>][] = [
  [
    'the lease expired and the next lease call reclaimed it',
    async (q) => {
      const id = await q.add({ hello: 'world' }, { attempts: 3, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
      const first = await s.lease(1, 100);
      expect(first.jobs.map((j) => j.id)).toEqual([id]);
      await s.waitLeaseExpired(id);
      const second = await s.lease(1, 30_000);
      // the expired lease was an attempt; with attempts left the job is leased again
      expect(second.jobs.map((j) => j.id), 'the reclaimed job is leased again, not dead-lettered').toEqual([id]);
      expect(second.jobs[0]!.attempt).toBe(2);
      return { id, stale: first.jobs[0]!, current: second.jobs[0]!, historyAfterTakeover: ['LeaseExpired'] };
    },
  ],
  [
    'the lease was released and the job leased again',
    async (q) => {
      const id = await q.add({ hello: 'world' }, { attempts: 3 });
      const first = await s.lease(1, 30_000);
      expect(await s.call('release', { delayMs: 0, leases: [{ id, token: first.jobs[0]!.token }] })).toEqual([ResultCode.OK]);
      const second = await s.lease(1, 30_000);
      expect(second.jobs.map((j) => j.id)).toEqual([id]);
      expect(second.jobs[0]!.attempt).toBe(1);
      return { id, stale: first.jobs[0]!, current: second.jobs[0]!, historyAfterTakeover: [] };
    },
  ],
];

describe.each(routes)('stale fencing tokens, through the scripts, when %s', (_route, takeover) => {
  async function staleAndCurrent(q: Queue): Promise<StalePair> {
    const pair = await takeover(q);
    expect(pair.current.token).not.toBe(pair.stale.token);
    expect(pair.stale.attempt).toBe(1);
    return pair;
  }

  it('refuses an ack with the stale token and leaves the job to the new holder', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale, current } = await staleAndCurrent(q);
    const before = await snapshot(id);

    const { codes, lease } = await s.call('ack', ackOf({ id, token: stale.token }));
    expect(codes).toEqual([ResultCode.LEASE_LOST]);
    expect(lease.jobs).toEqual([]);
    expect(await snapshot(id)).toEqual(before);
    expect(await q.getJob(id)).toMatchObject({ state: 'leased', attemptsMade: current.attempt });

    // the new holder can still complete it, once
    expect((await s.call('ack', ackOf({ id, token: current.token }))).codes).toEqual([ResultCode.OK]);
    expect(await q.getJob(id)).toBeNull();
    // the same ack again changes nothing (the job is gone, so it cannot tell a resend from a stale ack)
    expect((await s.call('ack', ackOf({ id, token: current.token }))).codes).toEqual([ResultCode.LEASE_LOST]);
  });

  it('applies only the current acks of a mixed ack batch', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale } = await staleAndCurrent(q);
    const other = await q.add({ other: true });
    const [leasedOther] = (await s.lease(1, 30_000)).jobs;
    expect(leasedOther?.id).toBe(other);
    const { codes } = await s.call('ack', ackOf({ id, token: stale.token }, { id: other, token: leasedOther!.token }));
    expect(codes).toEqual([ResultCode.LEASE_LOST, ResultCode.OK]);
    expect(await q.getJob(other)).toBeNull();
    expect(await q.getJob(id)).toMatchObject({ state: 'leased' });
  });

  it('refuses a fail (retry or dead-letter) with the stale token: no error recorded, no state change', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale, current, historyAfterTakeover } = await staleAndCurrent(q);
    const before = await snapshot(id);

    expect(await s.call('fail', failOf(id, stale.token, false, 0, 'stale retry', 1))).toBe(ResultCode.LEASE_LOST);
    expect(await s.call('fail', failOf(id, stale.token, false, 5000, 'stale delayed retry', 1))).toBe(ResultCode.LEASE_LOST);
    expect(await s.call('fail', failOf(id, stale.token, true, 0, 'stale dead-letter', 1))).toBe(ResultCode.LEASE_LOST);
    expect(await snapshot(id)).toEqual(before);
    const job = await q.getJob(id);
    expect(job?.state).toBe('leased');
    expect(job?.errors.map((e) => e.name)).toEqual(historyAfterTakeover);

    // the holder's own fail is applied
    expect(await s.call('fail', failOf(id, current.token, true, 0, 'real failure', current.attempt))).toBe(ResultCode.OK);
    const dead = await q.getJob(id);
    expect(dead?.state).toBe('dead');
    expect(dead?.lastError).toMatchObject({ message: 'real failure', attempt: current.attempt });
  });

  it('refuses an extend with the stale token (the deadline stays) and applies the current one', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale, current } = await staleAndCurrent(q);
    const before = await snapshot(id);

    expect(await s.call('extend', { leaseMs: 60_000, leases: [{ id, token: stale.token }] })).toEqual([ResultCode.LEASE_LOST]);
    expect(await snapshot(id)).toEqual(before);

    const mixed = await s.call('extend', { leaseMs: 60_000, leases: [{ id, token: stale.token }, { id, token: current.token }] });
    expect(mixed).toEqual([ResultCode.LEASE_LOST, ResultCode.OK]);
    const after = Number(await s.admin.zscore(s.keys.leased, id));
    expect(after).toBeGreaterThan(Number(before.leased) + 20_000);
  });

  it('refuses a release with the stale token: the attempt count is not touched', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale, current } = await staleAndCurrent(q);
    const before = await snapshot(id);
    expect(await s.call('release', { delayMs: 0, leases: [{ id, token: stale.token }] })).toEqual([ResultCode.LEASE_LOST]);
    expect(await snapshot(id)).toEqual(before);
    expect(await q.getJob(id)).toMatchObject({ state: 'leased', attemptsMade: current.attempt });
    // the holder's own release gives the attempt back
    expect(await s.call('release', { delayMs: 0, leases: [{ id, token: current.token }] })).toEqual([ResultCode.OK]);
    expect(await q.getJob(id)).toMatchObject({ state: 'ready', attemptsMade: current.attempt - 1 });
  });
});

describe('a worker that loses its lease', () => {
  /**
   * Makes the job's lease expire at once and reclaims it, in one MULTI so the worker's
   * heartbeat cannot slip in between: what a long GC pause or a network partition looks like
   * to Redis. With `lease` > 0 the caller also leases it (returns the new lease).
   */
  async function expireAndReclaim(id: string, lease: number): Promise<LeasedJob | undefined> {
    const multi = s.admin.multi().zadd(s.keys.leased, 'XX', 0, id);
    const parse = s.scripts.queue(s.admin, multi, 'lease', { n: lease, leaseMs: 30_000, rnd: 0, nonce: 'x', worker: '' });
    const res = await multi.exec();
    const reply = parse(res?.[1]?.[1]);
    if (lease === 0) return undefined;
    return reply.jobs[0];
  }

  it('sees its signal abort, emits LeaseLostError, and the job is completed once, by the new holder', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 }, { attempts: 3, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });

    const startedA = deferred();
    const bDone = deferred();
    const aReturned = deferred();
    let abortReason: unknown;
    let abortedAfterMs = -1;
    const a = s.trackWorker(
      new Worker<{ n: number }>(
        s.name,
        async (job, signal) => {
          if (job.data.n === 2) return 'after';
          startedA.resolve();
          const t = performance.now();
          await new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => resolve(), { once: true });
            setTimeout(resolve, 3000);
          });
          if (signal.aborted) {
            abortReason = signal.reason;
            abortedAfterMs = performance.now() - t;
          }
          await bDone.promise; // a handler that ignores the signal and finishes anyway
          setImmediate(() => aReturned.resolve()); // after the worker has seen the result
          return 'from-a';
        },
        { connection: s.url, leaseMs: 1000, heartbeatMs: 50 },
      ),
    );
    const errorsA: Error[] = [];
    const completedA: string[] = [];
    a.on('error', (e) => errorsA.push(e));
    a.on('completed', (job) => completedA.push(job.id));

    await startedA.promise;
    await q.setPolicy({ keepCompleted: true });
    await expireAndReclaim(id, 0);
    expect(await q.getJob(id)).toMatchObject({ state: 'ready', attemptsMade: 1 });

    await waitFor(() => abortedAfterMs >= 0, 2000, 'worker A to abort its handler');
    expect(abortReason).toBeInstanceOf(LeaseLostError);
    expect(abortReason).toMatchObject({ code: 'LEASE_LOST', jobId: id, operation: 'extend' });
    await waitFor(() => errorsA.some((e) => e instanceof LeaseLostError), 1000, 'worker A to emit LeaseLostError');
    expect(errorsA.filter((e) => e instanceof LeaseLostError).map((e) => (e as LeaseLostError).jobId)).toEqual([id]);

    const runsB: number[] = [];
    const b = s.trackWorker(
      new Worker(s.name, (job) => {
        runsB.push(job.attempt);
        return 'from-b';
      }, { connection: s.url }),
    );
    const completedB: string[] = [];
    b.on('completed', (job) => completedB.push(job.id));
    await waitFor(() => completedB.length === 1, 3000, 'worker B to complete the job');
    expect(runsB).toEqual([2]);

    bDone.resolve(); // A's handler now finishes: its outcome must not be applied
    await aReturned.promise;
    // a job only A can run (B is closed) is acked after any ack A sends for the lost run, in
    // that call or a later one: once it completed, whatever A did with 'from-a' has happened
    await b.close();
    const after = await q.add({ n: 2 });
    await waitFor(() => completedA.length > 0, 3000, 'worker A to complete a job added afterwards');
    // its lease was lost, so the worker sent no ack for it at all: no completion, no refused ack
    expect(completedA).toEqual([after]);
    expect(errorsA.filter((e) => e instanceof LeaseLostError && e.operation === 'ack')).toEqual([]);
    expect(completedB).toEqual([id]);
    const job = await q.getJob(id);
    expect(job).toMatchObject({ state: 'completed', result: 'from-b', attemptsMade: 2 });
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0, completed: 2 });
  });

  it('has its ack refused when the lease was taken over before the heartbeat noticed', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 }, { attempts: 3, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
    const started = deferred();
    const gate = deferred();
    // a heartbeat interval near the lease keeps the heartbeat out of this test's window
    const a = s.trackWorker(
      new Worker(
        s.name,
        async () => {
          started.resolve();
          await gate.promise;
          return 'stale';
        },
        { connection: s.url, leaseMs: 5000, heartbeatMs: 4999 },
      ),
    );
    const errors: Error[] = [];
    let completed = 0;
    a.on('error', (e) => errors.push(e));
    a.on('completed', () => completed++);
    await started.promise;

    const current = await expireAndReclaim(id, 1);
    expect(current).toMatchObject({ id, attempt: 2 });
    gate.resolve();
    await waitFor(() => errors.length > 0, 2000, 'worker A to report the refused ack');
    expect(errors[0]).toBeInstanceOf(LeaseLostError);
    expect(errors[0]).toMatchObject({ code: 'LEASE_LOST', jobId: id, operation: 'ack' });
    expect(completed).toBe(0);
    // untouched: still leased by the new holder, whose ack then succeeds
    expect(await q.getJob(id)).toMatchObject({ state: 'leased', attemptsMade: 2 });
    expect((await s.call('ack', ackOf(current!))).codes).toEqual([ResultCode.OK]);
    expect(await q.getJob(id)).toBeNull();
  });

  it('has its fail refused when the lease was taken over: no retry, no error recorded', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 }, { attempts: 3, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
    const started = deferred();
    const gate = deferred();
    const a = s.trackWorker(
      new Worker(
        s.name,
        async () => {
          started.resolve();
          await gate.promise;
          throw new Error('stale failure');
        },
        { connection: s.url, leaseMs: 5000, heartbeatMs: 4999 },
      ),
    );
    const errors: Error[] = [];
    const events: string[] = [];
    a.on('error', (e) => errors.push(e));
    for (const ev of ['failed', 'retried', 'dead', 'completed'] as const) a.on(ev, () => events.push(ev));
    await started.promise;

    const current = await expireAndReclaim(id, 1);
    gate.resolve();
    await waitFor(() => errors.length > 0, 2000, 'worker A to report the refused fail');
    expect(errors[0]).toMatchObject({ code: 'LEASE_LOST', jobId: id, operation: 'fail' });
    expect(events).toEqual([]);
    const job = await q.getJob(id);
    expect(job).toMatchObject({ state: 'leased', attemptsMade: 2 });
    expect(job?.errors.map((e) => e.message)).not.toContain('stale failure');
    expect(await s.call('extend', { leaseMs: 30_000, leases: [current!] })).toEqual([ResultCode.OK]);
  });
  it('aborts the handler through the heartbeat when the job was removed while running', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 });
    const started = deferred();
    let reason: unknown;
    const w = s.trackWorker(
      new Worker<{ n: number }>(
        s.name,
        async (job, signal) => {
          if (job.data.n === 2) return 'after';
          started.resolve();
          await new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => resolve(), { once: true });
            setTimeout(resolve, 3000);
          });
          reason = signal.reason;
          return 'too late';
        },
        { connection: s.url, leaseMs: 1000, heartbeatMs: 50 },
      ),
    );
    const errors: Error[] = [];
    const completed: string[] = [];
    w.on('error', (e) => errors.push(e));
    w.on('completed', (job) => completed.push(job.id));
    await started.promise;
    expect(await q.remove(id)).toBe(true);
    await waitFor(() => reason !== undefined, 2000, 'the handler to be aborted');
    expect(reason).toBeInstanceOf(LeaseLostError);
    expect(reason).toMatchObject({ jobId: id, operation: 'extend' });
    // the next job (concurrency 1: it runs once the aborted run has returned) is acked after
    // any ack of 'too late' would have been sent: once it completed, nothing more can come of it
    const after = await q.add({ n: 2 });
    await waitFor(() => completed.length > 0, 3000, 'a job added afterwards to complete');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(LeaseLostError);
    expect(errors.map((e) => (e as LeaseLostError).operation)).toEqual(['extend']);
    expect(completed).toEqual([after]);
    expect(await q.getJob(id)).toBeNull();
  });
});
