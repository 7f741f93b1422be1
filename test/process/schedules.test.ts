// Schedules with real processes: three workers and a scheduler (test/support/schedule-processes.ts,
// also run on the local Redis Cluster), firing across a Redis restart, and the nightly-digest example.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Queue, Scheduler } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { cleanupPrefix, startRedis } from '../support/redis.js';
import { OCCURRENCES, threeWorkersAndAScheduler } from '../support/schedule-processes.js';
import { startWorkerProcess, type WorkerEvent } from '../support/worker-process.js';

const run = promisify(execFile);

let s: Scope;
beforeEach(() => {
  s = new Scope('sched-proc');
});
afterEach(async () => {
  await s.dispose();
});

it(`three workers and a scheduler make exactly one job for each of ${OCCURRENCES} consecutive occurrences`, () => threeWorkersAndAScheduler(s));

it('the nightly-digest example runs (with a per-second cron) and stops after two digests', async () => {
  const example = fileURLToPath(new URL('../../examples/nightly-digest/main.mjs', import.meta.url));
  s.defer(() => cleanupPrefix(s.admin, 'kyoo:{digests}:'));
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: s.url, DIGEST_CRON: '* * * * * *', DIGEST_RUNS: '2' };
  delete env.NODE_OPTIONS;
  const { stdout } = await run(process.execPath, [example], { env, timeout: 30_000 });
  expect(stdout).toMatch(/^schedule created; next digest at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(Europe\/Berlin\)$/m);
  expect(stdout.match(/^worker [12]: digest for all-users, occurrence /gm)).toHaveLength(2);
  expect(stdout).toMatch(/^2 digest\(s\) made, last job nightly-digest@\d+$/m);
});

it('workers go on firing after Redis restarts, and every occurrence gets its job once (missed: all)', async () => {
  const server = await startRedis({ appendonly: true });
  s.defer(() => server.stop());
  const q = new Queue(s.name, { connection: server.url });
  s.defer(() => q.close());
  await q.setPolicy({ keepCompleted: { count: 10_000 } });
  const starts = new Map<string, number>();
  const onEvent = (e: WorkerEvent): void => {
    if (e.t === 'start' && e.id!.startsWith('tick@')) starts.set(e.id!, (starts.get(e.id!) ?? 0) + 1);
  };
  const workers = [0, 1].map(() => startWorkerProcess({ redisUrl: server.url, queue: s.name, concurrency: 2, onEvent }));
  s.defer(() => Promise.all(workers.map((w) => w.kill())));
  await Promise.all(workers.map((w) => w.ready));
  await q.schedules.upsert('tick', { cron: '* * * * * *', missed: 'all' });
  await waitFor(() => starts.size >= 3, 10_000, 'three occurrences before the restart');
  await server.kill('SIGTERM'); // graceful: the AOF is flushed
  await new Promise((r) => setTimeout(r, 2500)); // down across two occurrences (a timer: nothing to wait for while Redis is gone)
  await server.restart();
  const upAt = Date.now();
  await waitFor(() => [...starts.keys()].some((id) => Number(id.slice(5)) > upAt + 2000), 20_000, 'occurrences after the restart');
  await q.schedules.pause('tick');
  await waitFor(async () => { const c = await q.counts(); return c.ready + c.leased === 0; }, 10_000, 'the last jobs to finish');
  await Promise.all(workers.map((w) => w.close()));
  const admin = new Redis(server.url);
  s.defer(() => admin.quit());
  const occurrences = (await admin.hkeys(q.keys.jobs)).filter((f) => f.startsWith('tick@')).map((f) => Number(f.slice(5))).sort((a, b) => a - b);
  // every second from the first occurrence to the last has its job, the downtime's included
  for (let i = 1; i < occurrences.length; i++) expect(occurrences[i]! - occurrences[i - 1]!).toBe(1000);
  expect(occurrences.length).toBe((await q.schedules.get('tick'))!.runs);
  for (const at of occurrences) expect((await q.getJob(`tick@${at}`))!.state).toBe('completed');
});

it('a scheduler closes promptly while Redis is down (its firing waits for a reconnect, not forever)', async () => {
  const server = await startRedis();
  s.defer(() => server.stop());
  const q = new Queue(s.name, { connection: server.url });
  await q.schedules.upsert('t', { everyMs: 200 });
  await q.close();
  const scheduler = new Scheduler(s.name, { connection: server.url });
  const fired = new Promise<void>((r) => scheduler.once('fired', () => r()));
  await fired;
  await server.kill('SIGKILL');
  // the next firing (every 200 ms) is sent to a Redis that is gone: it waits for a reconnect
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  await scheduler.close();
  expect(Date.now() - t0).toBeLessThan(5000);
});
