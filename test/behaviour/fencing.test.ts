// Fencing tokens: once a lease has expired and the job was leased again, the old holder's
// ack, fail, extend and release are refused (LEASE_LOST) and change nothing.
import { KEY_LAYOUT, SCRIPTS, ResultCode, encode } from '@kyoo/core';
import { LeaseLostError, Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, sleep, waitFor, type LeasedJob } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('fencing');
});
afterEach(async () => {
  await s.dispose();
});

const MAX_ERRORS = 10;
const errBlob = (message: string, attempt: number): Buffer => encode({ name: 'Error', message, stack: '', attempt });

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
      await sleep(150);
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
      expect(await s.run('release', [1, id, first.jobs[0]!.token])).toEqual([ResultCode.OK]);
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

    const [codes, lease] = (await s.run('ack', [0, 1000, 0, MAX_ERRORS, 0, 0, 1, id, stale.token, ''])) as [number[], unknown[]];
    expect(codes).toEqual([ResultCode.LEASE_LOST]);
    expect(lease).toBeDefined();
    expect(await snapshot(id)).toEqual(before);
    expect(await q.getJob(id)).toMatchObject({ state: 'leased', attemptsMade: current.attempt });

    // the new holder can still complete it, once
    const [ok] = (await s.run('ack', [0, 1000, 0, MAX_ERRORS, 0, 0, 1, id, current.token, ''])) as [number[], unknown[]];
    expect(ok).toEqual([ResultCode.OK]);
    expect(await q.getJob(id)).toBeNull();
    // the same ack again changes nothing (the job is gone, so it cannot tell a resend from a stale ack)
    const [again] = (await s.run('ack', [0, 1000, 0, MAX_ERRORS, 0, 0, 1, id, current.token, ''])) as [number[], unknown[]];
    expect(again).toEqual([ResultCode.LEASE_LOST]);
  });

  it('applies only the current acks of a mixed ack batch', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale } = await staleAndCurrent(q);
    const other = await q.add({ other: true });
    const [leasedOther] = (await s.lease(1, 30_000)).jobs;
    expect(leasedOther?.id).toBe(other);
    const [codes] = (await s.run('ack', [0, 1000, 0, MAX_ERRORS, 0, 0, 2, id, stale.token, '', other, leasedOther!.token, ''])) as [
      number[],
      unknown[],
    ];
    expect(codes).toEqual([ResultCode.LEASE_LOST, ResultCode.OK]);
    expect(await q.getJob(other)).toBeNull();
    expect(await q.getJob(id)).toMatchObject({ state: 'leased' });
  });

  it('refuses a fail (retry or dead-letter) with the stale token: no error recorded, no state change', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale, current, historyAfterTakeover } = await staleAndCurrent(q);
    const before = await snapshot(id);

    expect(await s.run('fail', [id, stale.token, 0, 0, errBlob('stale retry', 1), MAX_ERRORS])).toBe(ResultCode.LEASE_LOST);
    expect(await s.run('fail', [id, stale.token, 0, 5000, errBlob('stale delayed retry', 1), MAX_ERRORS])).toBe(ResultCode.LEASE_LOST);
    expect(await s.run('fail', [id, stale.token, 1, 0, errBlob('stale dead-letter', 1), MAX_ERRORS])).toBe(ResultCode.LEASE_LOST);
    expect(await snapshot(id)).toEqual(before);
    const job = await q.getJob(id);
    expect(job?.state).toBe('leased');
    expect(job?.errors.map((e) => e.name)).toEqual(historyAfterTakeover);

    // the holder's own fail is applied
    expect(await s.run('fail', [id, current.token, 1, 0, errBlob('real failure', current.attempt), MAX_ERRORS])).toBe(ResultCode.OK);
    const dead = await q.getJob(id);
    expect(dead?.state).toBe('dead');
    expect(dead?.lastError).toMatchObject({ message: 'real failure', attempt: current.attempt });
  });

  it('refuses an extend with the stale token (the deadline stays) and applies the current one', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale, current } = await staleAndCurrent(q);
    const before = await snapshot(id);

    expect(await s.run('extend', [60_000, 1, id, stale.token])).toEqual([ResultCode.LEASE_LOST]);
    expect(await snapshot(id)).toEqual(before);

    const mixed = (await s.run('extend', [60_000, 2, id, stale.token, id, current.token])) as number[];
    expect(mixed).toEqual([ResultCode.LEASE_LOST, ResultCode.OK]);
    const after = Number(await s.admin.zscore(s.keys.leased, id));
    expect(after).toBeGreaterThan(Number(before.leased) + 20_000);
  });

  it('refuses a release with the stale token: the attempt count is not touched', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id, stale, current } = await staleAndCurrent(q);
    const before = await snapshot(id);
    expect(await s.run('release', [1, id, stale.token])).toEqual([ResultCode.LEASE_LOST]);
    expect(await snapshot(id)).toEqual(before);
    expect(await q.getJob(id)).toMatchObject({ state: 'leased', attemptsMade: current.attempt });
    // the holder's own release gives the attempt back
    expect(await s.run('release', [1, id, current.token])).toEqual([ResultCode.OK]);
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
    await s.loadScript('lease');
    const keys = s.scriptKeys('lease');
    const res = await s.admin
      .multi()
      .zadd(s.keys.leased, 'XX', 0, id)
      .evalsha(SCRIPTS.lease.sha, keys.length, ...keys, lease, 30_000, 0, MAX_ERRORS)
      .exec();
    const reply = res?.[1]?.[1] as unknown[];
    if (lease === 0) return undefined;
    const r = reply.map((v) => (typeof v === 'number' ? v : String(v)));
    return { id: String(r[1]), token: String(r[2]), attempt: Number(r[3]), record: Buffer.alloc(0) };
  }

  it('sees its signal abort, emits LeaseLostError, and the job is completed once, by the new holder', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 }, { attempts: 3, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });

    const startedA = deferred();
    const bDone = deferred();
    let abortReason: unknown;
    let abortedAfterMs = -1;
    const a = s.trackWorker(
      new Worker(
        s.name,
        async (_job, signal) => {
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
      }, { connection: s.url, keepCompleted: true }),
    );
    const completedB: string[] = [];
    b.on('completed', (job) => completedB.push(job.id));
    await waitFor(() => completedB.length === 1, 3000, 'worker B to complete the job');
    expect(runsB).toEqual([2]);

    bDone.resolve(); // A's handler now finishes: its outcome must not be applied
    await sleep(200);
    expect(completedA).toEqual([]);
    expect(completedB).toEqual([id]);
    const job = await q.getJob(id);
    expect(job).toMatchObject({ state: 'completed', result: 'from-b', attemptsMade: 2 });
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0, completed: 1 });
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
    const [codes] = (await s.run('ack', [0, 1000, 0, MAX_ERRORS, 0, 0, 1, id, current!.token, ''])) as [number[], unknown];
    expect(codes).toEqual([ResultCode.OK]);
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
    expect(await s.run('extend', [30_000, 1, id, current!.token])).toEqual([ResultCode.OK]);
  });
  it('aborts the handler through the heartbeat when the job was removed while running', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 });
    const started = deferred();
    let reason: unknown;
    const w = s.trackWorker(
      new Worker(
        s.name,
        async (_job, signal) => {
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
    let completed = 0;
    w.on('error', (e) => errors.push(e));
    w.on('completed', () => completed++);
    await started.promise;
    expect(await q.remove(id)).toBe(true);
    await waitFor(() => reason !== undefined, 2000, 'the handler to be aborted');
    expect(reason).toBeInstanceOf(LeaseLostError);
    expect(reason).toMatchObject({ jobId: id, operation: 'extend' });
    await sleep(100);
    expect(errors.map((e) => (e as LeaseLostError).operation)).toEqual(['extend']);
    expect(completed).toBe(0);
    expect(await q.getJob(id)).toBeNull();
  });
});
