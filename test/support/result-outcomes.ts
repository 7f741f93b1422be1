// A producer awaits the outcomes of jobs that a worker process runs (single server and local
// Cluster): the value with its progress reports, dead-lettered, cancelled, timed out, and a job
// that finished before the wait began.
import { JobCancelledError, JobFailedError, Queue, WaitTimeoutError, type JobProgress } from 'kyoo';
import { expect } from 'vitest';
import { deferred, waitFor, type Scope } from './behaviour.js';
import { startWorkerProcess } from './worker-process.js';

export async function outcomesFromAnotherProcess(s: Scope): Promise<void> {
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
}
