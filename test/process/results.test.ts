// A producer awaits the outcomes of jobs that worker processes run: success with progress,
// dead-lettered, cancelled, timed out, finished before the wait began. And 1,000 concurrent
// waits share one events reader, so the producer holds two connections (commands and the reader).
import { JobCancelledError, JobFailedError, Queue, WaitTimeoutError, type JobProgress } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';
import { clientsNamed } from '../support/redis.js';
import { startWorkerProcess } from '../support/worker-process.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('results-proc');
});
afterEach(async () => {
  await s.dispose();
});

it('1,000 concurrent waits in one process use one reader connection and all get their results', async () => {
  const q = s.track(new Queue<{ seq: number }>(s.name, { connection: s.named('producer') }));
  await q.setPolicy({ keepCompleted: { count: 5000 } });
  const ids = await q.addBulk(Array.from({ length: 1000 }, (_, seq) => ({ data: { seq } })));
  const results = Promise.all(ids.map((id) => q.result<{ by: number; attempt: number }>(id, { timeoutMs: 60_000 })));
  await waitFor(async () => (await clientsNamed(s.admin, `${s.name}:producer`)).some((c) => c.cmd === 'xread'), 5000, 'the reader to block');
  const conns = await clientsNamed(s.admin, `${s.name}:producer`);
  expect(conns).toHaveLength(2); // the queue's connection and the one reader
  const workers = [0, 1].map(() => startWorkerProcess({ redisUrl: s.url, queue: s.name, concurrency: 10 }));
  s.defer(() => Promise.all(workers.map((w) => w.kill())));
  await Promise.all(workers.map((w) => w.ready));
  const got = await results;
  const pids = new Set(workers.map((w) => w.pid));
  expect(got.every((r) => pids.has(r.by) && r.attempt === 1)).toBe(true);
  // when no wait is left, the reader is closed
  await waitFor(async () => (await clientsNamed(s.admin, `${s.name}:producer`)).length === 1, 5000, 'the reader to close');
});

it('outcomes of jobs run in another process: value and progress, dead, cancelled, timed out, finished before', async () => {
  type D = { progress?: number; fail?: boolean; slowMs?: number };
  const q = s.track(new Queue<D>(s.name, { connection: s.url }));
  await q.setPolicy({ keepCompleted: true });
  const earlier = await q.add({});
  const worker = startWorkerProcess({ redisUrl: s.url, queue: s.name, concurrency: 4, sleepMs: 50 });
  s.defer(() => worker.kill());
  await worker.ready;
  await waitFor(async () => (await q.getJob(earlier))?.state === 'completed', 10_000, 'the earlier job to complete');
  const heard: JobProgress[] = [];
  const ok = await q.add({ progress: 3 });
  const dead = await q.add({ fail: true }, { attempts: 1 });
  const slow = await q.add({ slowMs: 60_000 });
  const slower = await q.add({ slowMs: 60_000 });
  const outcomes = Promise.all([
    q.result<{ by: number }>(ok, { onProgress: (p) => heard.push(p) }),
    q.result(dead).catch((e: unknown) => e),
    q.result(slow).catch((e: unknown) => e),
    q.result(slower, { timeoutMs: 300 }).catch((e: unknown) => e),
    q.result<{ by: number }>(earlier),
  ]);
  const running = deferred();
  void waitFor(async () => (await q.getJob(slow))?.state === 'leased', 10_000, 'the slow job to start').then(running.resolve);
  await running.promise;
  expect(await q.cancel(slow)).toBe('cancelling');
  const [value, deadErr, cancelErr, timeoutErr, before] = await outcomes;
  expect(value.by).toBe(worker.pid);
  // the first report may have been made before the wait had its place: it then came from the job
  expect(heard.map((p) => p.value)).toEqual([1, 2, 3].slice(3 - heard.length));
  expect(heard.length).toBeGreaterThanOrEqual(1);
  expect(heard.at(-1)).toMatchObject({ value: 3, attempt: 1 });
  expect(deadErr).toBeInstanceOf(JobFailedError);
  expect((deadErr as JobFailedError).lastError?.message).toBe('asked to fail');
  expect(cancelErr).toBeInstanceOf(JobCancelledError);
  expect(timeoutErr).toBeInstanceOf(WaitTimeoutError);
  expect((await q.getJob(slower))?.state).toBe('leased'); // the job goes on
  expect(before.by).toBe(worker.pid);
});
