// A producer awaits the outcomes of jobs that worker processes run: success with progress,
// dead-lettered, cancelled, timed out, finished before the wait began. And 1,000 concurrent
// waits share one events reader, so the producer holds two connections (commands and the reader).
import { Queue } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { outcomesFromAnotherProcess } from '../support/result-outcomes.js';
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

it('outcomes of jobs run in another process: value and progress, dead, cancelled, timed out, finished before', () => outcomesFromAnotherProcess(s));
