// Inputs and habits of real applications that must not break a worker: durations beyond
// what a Node timer holds (2^31-1 ms), bad close() arguments, and payloads whose values
// msgpack could change on the way (BigInts, undefined, Sets).
import { InvalidOptionError, Queue, Worker, type Job } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';
import { adminConnection } from '../support/redis.js';

const DAY = 24 * 3600 * 1000;

let s: Scope;
beforeEach(() => {
  s = new Scope('hardening');
});
afterEach(async () => {
  await s.dispose();
});

const queue = <T = unknown>() => s.track(new Queue<T>(s.name, { connection: s.url }));

/** Resolves with the first of a worker's `completed` (its result) or `failed` (its error). */
function outcome<R>(worker: Worker<unknown, R>): Promise<{ completed: R } | { failed: Error }> {
  return new Promise((resolve) => {
    worker.once('completed', (_job, result) => resolve({ completed: result }));
    worker.once('failed', (_job, error) => resolve({ failed: error }));
  });
}

describe('durations beyond 2^31-1 ms', () => {
  it('a 35-day job timeout does not fire early (job option and worker option)', async () => {
    const q = queue();
    const w = s.trackWorker(
      new Worker(s.name, async (job: Job) => {
        await new Promise((r) => setTimeout(r, 150));
        return job.id;
      }, { connection: s.url, timeoutMs: 35 * DAY }),
    );
    let seen = outcome(w);
    const own = await q.add({}, { timeoutMs: 35 * DAY });
    expect(await seen).toEqual({ completed: own });
    seen = outcome(w);
    const byWorker = await q.add({});
    expect(await seen).toEqual({ completed: byWorker });
  });

  it('a 115-day lease does not heartbeat every millisecond: its deadline stays put between beats', async () => {
    const q = queue();
    const started = deferred();
    const gate = deferred();
    // the worker's own connection, which this test reads through too: a read sent after a
    // heartbeat on it is answered after that heartbeat was applied
    const conn = adminConnection(s.url);
    s.defer(() => conn.quit());
    s.trackWorker(
      new Worker(s.name, async () => {
        started.resolve();
        await gate.promise;
      }, { connection: conn, leaseMs: 115 * DAY }),
    );
    const id = await q.add({});
    await started.promise;
    const first = await conn.zscore(s.keys.leased, id);
    // A heartbeat pushes the deadline to now + leaseMs. Its interval (leaseMs / 3, over 2^31-1
    // ms) would fire every millisecond if given to a plain Node timer. The witness: a second
    // worker on the same connection, whose 200 ms heartbeat takes the same path. Timers of one
    // process run in the order they are due, and `conn` sends in order, so once Redis shows the
    // witness's deadline moved, a heartbeat firing every millisecond would have moved the long
    // lease's first, however slow the machine.
    const witnessQueue = s.track(new Queue(`${s.name}-witness`, { connection: s.url }));
    s.defer(() => s.admin.del(...Object.values(witnessQueue.keys)));
    const witnessStarted = deferred();
    s.trackWorker(
      new Worker(`${s.name}-witness`, async () => {
        witnessStarted.resolve();
        await gate.promise;
      }, { connection: conn, leaseMs: 600 }),
    );
    const witnessId = await witnessQueue.add({});
    await witnessStarted.promise;
    const witnessFirst = await conn.zscore(witnessQueue.keys.leased, witnessId);
    await waitFor(async () => (await conn.zscore(witnessQueue.keys.leased, witnessId)) !== witnessFirst, 5000,
      "the witness's heartbeat to move its deadline");
    const later = await conn.zscore(s.keys.leased, id);
    expect(Number(first)).toBeGreaterThan(Date.now() + 114 * DAY);
    expect(later).toBe(first);
    gate.resolve();
  });

  it('a 35-day closeGraceMs lets a running job finish at close() instead of aborting it', async () => {
    const q = queue();
    const started = deferred();
    let aborted = false;
    const w = new Worker(s.name, async (_job, signal) => {
      started.resolve();
      await new Promise((r) => setTimeout(r, 200));
      aborted = signal.aborted;
      return 'finished';
    }, { connection: s.url, closeGraceMs: 35 * DAY });
    const seen = outcome(w);
    const id = await q.add({});
    await started.promise;
    await w.close();
    expect(await seen).toEqual({ completed: 'finished' });
    expect(aborted).toBe(false);
    expect(await q.getJob(id)).toBeNull(); // acked and removed, not released back to ready
  });

  it.each([
    ['Infinity', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
    ['-1', -1],
    ["'soon'", 'soon'],
    ['1.5', 1.5],
    ['11 years', 11 * 365 * DAY],
  ])('close(%s) rejects with InvalidOptionError naming graceMs, and the worker goes on', async (_what, grace) => {
    const q = queue();
    const started = deferred();
    const gate = deferred();
    let aborted = false;
    const w = s.trackWorker(
      new Worker(s.name, async (job: Job<{ hold: boolean }>, signal) => {
        if (job.data.hold) {
          started.resolve();
          await gate.promise;
          aborted = signal.aborted;
        }
        return job.id;
      }, { connection: s.url, concurrency: 2 }),
    );
    const held = await q.add({ hold: true });
    await started.promise;
    const err = await w.close(grace as number).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe('graceMs');
    expect(w.isRunning()).toBe(true);
    // still leasing: a new job completes, and the held one was not aborted
    const next = outcome(w);
    const fresh = await q.add({ hold: false });
    expect(await next).toEqual({ completed: fresh });
    const last = outcome(w);
    gate.resolve();
    expect(await last).toEqual({ completed: held });
    expect(aborted).toBe(false);
  });
});

describe('payloads and results come back exactly', () => {
  it('BigInts of every size, undefined, Sets, Dates and bytes survive add, the worker and getJob', async () => {
    const data = {
      big: 2n ** 60n + 1n, // loses precision as a Number
      huge: 2n ** 70n, // beyond 64 bits
      negative: -(2n ** 63n),
      small: 5n,
      number: 2 ** 53 - 1,
      nothing: undefined,
      tags: new Set(['a', 'b']),
      at: new Date(1_700_000_000_123),
      bytes: new Uint8Array([0, 255, 7]),
      list: [1, undefined, 'x'],
    };
    const q = s.track(new Queue<typeof data>(s.name, { connection: s.url }));
    await q.setPolicy({ keepCompleted: true });
    const received = deferred<unknown>();
    const w = s.trackWorker(
      new Worker<typeof data, unknown>(s.name, (job) => {
        received.resolve(job.data);
        return { echo: job.data.big * 2n, tags: job.data.tags };
      }, { connection: s.url }),
    );
    const done = outcome(w);
    const id = await q.add(data);
    const got = await received.promise;
    expect(got).toStrictEqual(data);
    expect(typeof (got as typeof data).big).toBe('bigint');
    expect((got as typeof data).big).toBe(1152921504606846977n);
    expect(await done).toStrictEqual({ completed: { echo: 2305843009213693954n, tags: new Set(['a', 'b']) } });
    await waitFor(async () => (await q.getJob(id))?.state === 'completed', 5000, 'the job to be kept as completed');
    const info = await q.getJob(id);
    expect(info?.data).toStrictEqual(data);
    expect(info?.result).toStrictEqual({ echo: 2305843009213693954n, tags: new Set(['a', 'b']) });
  });

  it('a result that would not round-trip is not kept (never kept changed) and is reported', async () => {
    const q = queue();
    await q.setPolicy({ keepCompleted: true });
    const errors: Error[] = [];
    const w = s.trackWorker(new Worker(s.name, () => new Map([['a', 1]]), { connection: s.url }));
    w.on('error', (e) => errors.push(e));
    const done = outcome(w);
    const id = await q.add({});
    expect(await done).toMatchObject({ completed: new Map([['a', 1]]) });
    await waitFor(async () => (await q.getJob(id))?.state === 'completed', 5000, 'the job to be kept as completed');
    expect((await q.getJob(id))?.result).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(InvalidOptionError);
    expect(errors[0]!.message).toMatch(new RegExp(`job ${id} completed, but its result was not kept: the value is a Map`));
  });
});
