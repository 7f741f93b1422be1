// Waiting for a job's outcome (queue.result): the handler's value, the final error of a dead
// job, cancellation, a timeout, a job that finished before the wait began, no such job, and a
// wait that ends before it has looked at its job.
import { ConnectionClosedError, JobCancelledError, JobFailedError, JobNotFoundError, Queue, WaitTimeoutError, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';
import { clientsNamed } from '../support/redis.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('results');
});
afterEach(async () => {
  await s.dispose();
});

describe('queue.result', () => {
  it('resolves with the value, rejects with the final error of a dead job', async () => {
    const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
    await q.setPolicy({ keepCompleted: true });
    const ok = await q.add({ n: 21 });
    const bad = await q.add({ n: -1 }, { attempts: 2, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
    const waits = [q.result<number>(ok), q.result(bad).catch((e: unknown) => e)];
    s.trackWorker(new Worker<{ n: number }>(s.name, (job) => {
      if (job.data.n < 0) throw new RangeError(`bad n ${job.data.n}`);
      return job.data.n * 2;
    }, { connection: s.url }));
    const [value, err] = await Promise.all(waits);
    expect(value).toBe(42);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).lastError).toMatchObject({ name: 'RangeError', message: 'bad n -1', attempt: 2 });
    // after the fact: the kept result, and the dead job's error
    expect(await q.result(ok)).toBe(42);
    await expect(q.result(bad)).rejects.toBeInstanceOf(JobFailedError);
  });

  it('rejects for a cancelled job, a job that does not exist, and after its timeout', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({});
    const waiting = q.result(id).catch((e: unknown) => e);
    const timed = q.result(id, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(await timed).toBeInstanceOf(WaitTimeoutError);
    expect(await q.cancel(id)).toBe('cancelled');
    expect(await waiting).toBeInstanceOf(JobCancelledError);
    await expect(q.result('no-such-job')).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(q.result(id)).rejects.toBeInstanceOf(JobCancelledError); // kept as cancelled
  });

  it('a completion while waiting resolves even when results are not kept (with undefined)', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({});
    const started = deferred();
    const release = deferred();
    s.trackWorker(new Worker(s.name, async () => {
      started.resolve();
      await release.promise;
      return 'not kept';
    }, { connection: s.url }));
    await started.promise;
    const wait = q.result(id);
    release.resolve();
    expect(await wait).toBeUndefined();
    const doneAt = Date.now();
    await waitFor(async () => (await q.getJob(id)) === null, 5000, 'the job to be gone');
    // a wait that begins more than a second after it completed (result not kept) finds nothing
    await waitFor(async () => (await s.redisNow()) > doneAt + 1200, 5000, 'a second to pass');
    await expect(q.result(id)).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('a wait that ends before it has looked at its job (timeout, close) rejects its caller only: nothing unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    s.defer(() => process.off('unhandledRejection', onUnhandled));
    const q = s.track(new Queue(s.name, { connection: s.named('waits') }));
    const ids = Array.from({ length: 100 }, (_, i) => `job-${i}`);
    // 1 ms is over before the first wait's reader has its place in the stream
    const timedOut = await Promise.all(ids.map((id) => q.result(id, { timeoutMs: 1 }).catch((e: unknown) => e)));
    expect(timedOut.every((e) => e instanceof WaitTimeoutError)).toBe(true);
    // closed while the waits are still looking at their jobs
    const closed = ids.map((id) => q.result(id).catch((e: unknown) => e));
    await q.close();
    expect((await Promise.all(closed)).every((e) => e instanceof ConnectionClosedError)).toBe(true);
    // once the queue's connections are gone, every lookup sent has been answered or refused;
    // Node reports an unhandled rejection at the end of the turn its promise was rejected in
    await waitFor(async () => (await clientsNamed(s.admin, `${s.name}:waits`)).length === 0, 5000, 'the connections to close');
    for (let turn = 0; turn < 3; turn++) await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  });
});
