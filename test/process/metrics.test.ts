// Metrics from three worker processes add up in Redis: the counters (written by the scripts)
// and the histograms (each worker adds its observations every few seconds and at close).
import { Queue, prometheusText } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { startWorkerProcess } from '../support/worker-process.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('metrics-proc');
});
afterEach(async () => {
  await s.dispose();
});

it('counters and histograms from 3 worker processes add up to the jobs processed', async () => {
  const q = s.track(new Queue<{ seq: number }>(s.name, { connection: s.url }));
  const JOBS = 3000;
  await q.addBulk(Array.from({ length: JOBS }, (_, seq) => ({ data: { seq } })));
  const workers = [0, 1, 2].map(() => startWorkerProcess({ redisUrl: s.url, queue: s.name, concurrency: 10, sleepMs: 1, sleepJitterMs: 2 }));
  s.defer(() => Promise.all(workers.map((w) => w.kill())));
  await Promise.all(workers.map((w) => w.ready));
  await waitFor(async () => (await q.metrics()).counters.completed === JOBS, 60_000, 'every job to complete');
  const busy = new Set(workers.filter((w) => w.events.some((e) => e.t === 'completed')).map((w) => w.pid));
  expect(busy.size).toBe(3);
  await waitFor(async () => (await q.metrics()).gauges.workers === 3, 10_000, 'three workers seen');
  await Promise.all(workers.map((w) => w.close()));
  const m = await q.metrics();
  const perProcess = workers.map((w) => w.events.filter((e) => e.t === 'completed').length);
  expect(perProcess.reduce((a, b) => a + b, 0)).toBe(JOBS);
  expect(m.counters).toMatchObject({ added: JOBS, started: JOBS, completed: JOBS, failed: 0 });
  expect(m.processing.count).toBe(JOBS);
  expect(m.wait.count).toBe(JOBS);
  expect(m.gauges).toMatchObject({ workers: 0, ready: 0, running: 0 });
  expect(prometheusText([m])).toContain(`kyoo_job_attempts_total{queue="${s.name}",outcome="completed"} ${JOBS}`);
});
