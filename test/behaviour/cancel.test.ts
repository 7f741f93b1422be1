// Cancellation: a waiting or delayed job is removed from its queue; a running job's signal
// aborts (at its worker's next heartbeat) and it ends as cancelled: not retried, not
// dead-lettered, visible in getJob, and its late ack changes nothing.
import { JobCancelledError, Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('cancel');
});
afterEach(async () => {
  await s.dispose();
});

describe('queue.cancel', () => {
  it('cancels a waiting job: it never runs and getJob shows it cancelled', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.pause();
    const id = await q.add({ n: 1 });
    const other = await q.add({ n: 2 });
    expect(await q.cancel(id)).toBe('cancelled');
    expect(await q.getJob(id)).toMatchObject({ state: 'cancelled', attemptsMade: 0 });
    const ran: string[] = [];
    const done = deferred();
    s.trackWorker(new Worker(s.name, (job) => {
      ran.push(job.id);
      done.resolve();
    }, { connection: s.url }));
    await q.resume();
    await done.promise;
    await waitFor(async () => (await q.counts()).leased === 0, 2000, 'the other job to be acked');
    expect(ran).toEqual([other]);
    expect(await q.counts()).toMatchObject({ ready: 0, cancelled: 1 });
    expect(await q.cancel(id)).toBe('finished');
  });

  it('cancels a delayed job and a job waiting for its retry', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const delayed = await q.add({}, { delayMs: 60_000 });
    expect(await q.cancel(delayed)).toBe('cancelled');
    expect(await q.counts()).toMatchObject({ delayed: 0, cancelled: 1 });
    const failedOnce = deferred();
    const w = s.trackWorker(new Worker(s.name, () => {
      throw new Error('later');
    }, { connection: s.url }));
    w.on('retried', () => failedOnce.resolve());
    const retrying = await q.add({}, { attempts: 3, backoff: { type: 'fixed', delayMs: 60_000 } });
    await failedOnce.promise;
    expect((await q.getJob(retrying))?.state).toBe('delayed');
    expect(await q.cancel(retrying)).toBe('cancelled');
    expect(await q.getJob(retrying)).toMatchObject({ state: 'cancelled', attemptsMade: 1, lastError: { message: 'later' } });
    expect(await q.counts()).toMatchObject({ delayed: 0, dead: 0, cancelled: 2 });
  });

  it('cancels a running job: its signal aborts with JobCancelledError, its ack changes nothing, no retry, no dead letter', async () => {
    const q = s.track(new Queue<{ after?: boolean }>(s.name, { connection: s.url }));
    await q.setPolicy({ keepCompleted: true });
    const started = deferred();
    const finished = deferred();
    let reason: unknown;
    const events: string[] = [];
    const w = s.trackWorker(new Worker<{ after?: boolean }>(s.name, async (job, signal) => {
      if (job.data.after) return 'after';
      started.resolve();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      reason = signal.reason;
      setImmediate(() => finished.resolve());
      return 'finished anyway'; // a handler that returns after the abort: its ack must change nothing
    }, { connection: s.url, leaseMs: 600, heartbeatMs: 50 }));
    for (const e of ['failed', 'retried', 'dead', 'error'] as const) w.on(e, () => events.push(e));
    w.on('completed', (job) => events.push(`completed:${job.id}`));
    const cancelled = deferred();
    w.on('cancelled', (job) => {
      events.push(`cancelled:${job.id}`);
      cancelled.resolve();
    });
    const id = await q.add({}, { attempts: 3 });
    await started.promise;
    expect(await q.cancel(id)).toBe('cancelling');
    expect((await q.getJob(id))?.state).toBe('cancelled');
    await finished.promise;
    await cancelled.promise;
    expect(reason).toBeInstanceOf(JobCancelledError);
    expect(reason).toMatchObject({ code: 'JOB_CANCELLED', jobId: id });
    // the next job (concurrency 1) is acked after anything the worker sends for the cancelled
    // run: once it completed, every event of that run has been emitted
    const after = await q.add({ after: true });
    await waitFor(() => events.includes(`completed:${after}`), 3000, 'a job added afterwards to complete');
    expect(events).toEqual([`cancelled:${id}`, `completed:${after}`]);
    // it left `leased` when it was cancelled: a reclaim step finds nothing to bring back
    expect(await s.admin.zscore(s.keys.leased, id)).toBeNull();
    await s.lease(0, 1000); // a lease call runs the reclaim step
    expect(await q.getJob(id)).toMatchObject({ state: 'cancelled', attemptsMade: 1 });
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0, completed: 1, cancelled: 1 });
  });

  it('keeps at most keepCancelled cancelled jobs', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.setPolicy({ keepCancelled: 2 });
    await q.pause();
    const ids = await q.addBulk([1, 2, 3].map((n) => ({ data: { n } })));
    for (const id of ids) expect(await q.cancel(id)).toBe('cancelled');
    expect(await q.getJob(ids[0]!)).toBeNull();
    expect((await q.getJob(ids[2]!))?.state).toBe('cancelled');
    expect(await q.counts()).toMatchObject({ cancelled: 2, ready: 0 });
  });

  it('reports not-found for an unknown id and refuses a bad id', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    expect(await q.cancel('nope')).toBe('not-found');
    await expect(q.cancel('' as string)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'id' });
  });
});
