// Priorities, deduplication and backpressure with several processes at once: the ordering
// and the limits are kept in Redis, atomically, so they hold however many producers and
// workers run.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Queue } from 'kyoo';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.js';

const run = promisify(execFile);
const PRODUCER = fileURLToPath(new URL('../fixtures/producer.mjs', import.meta.url));

let s: Scope;
beforeEach(() => {
  s = new Scope('features');
});
afterEach(async () => {
  await s.dispose();
});

interface ProducerOutput { pid: number; ids: string[]; deduplicated: number; refused: number }

/** Runs `count` producer processes at once, each adding `adds` jobs; returns what each printed. */
async function producers(count: number, adds: number, env: Record<string, string> = {}): Promise<ProducerOutput[]> {
  const outs = await Promise.all(Array.from({ length: count }, () =>
    run(process.execPath, [PRODUCER], { env: { ...process.env, REDIS_URL: s.url, KYOO_QUEUE: s.name, KYOO_ADDS: String(adds), ...env }, timeout: 60_000 })));
  return outs.map((o) => JSON.parse(o.stdout) as ProducerOutput);
}

it('three worker processes start jobs in priority order', async () => {
  const q = s.track(new Queue<{ seq: number; p: number }>(s.name, { connection: s.url }));
  await q.pause();
  // 240 jobs, priorities 1..3 interleaved, added in one order; they must run by priority
  const jobs = Array.from({ length: 240 }, (_, seq) => ({ data: { seq, p: (seq % 3) + 1 }, opts: { priority: (seq % 3) + 1 } }));
  const ids = await q.addBulk(jobs);
  const priorityOf = new Map(ids.map((id, i) => [id, jobs[i]!.data.p]));
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < 3; i++) workers.push(startWorkerProcess({ redisUrl: s.url, queue: s.name, concurrency: 1, sleepMs: 3 }));
  s.defer(() => Promise.all(workers.map((w) => w.kill())));
  await Promise.all(workers.map((w) => w.ready));
  await q.resume();
  await waitFor(async () => (await q.counts()).ready + (await q.counts()).leased === 0, 30_000, 'every job to run');
  // close() flushes each process's reports before it says 'closed': every start is in after it
  await Promise.all(workers.map((w) => w.close()));
  for (const w of workers) expect((await w.exited).code).toBe(0);
  const starts = workers.flatMap((w) => w.events.filter((e) => e.t === 'start')).map((e) => ({ id: e.id!, at: e.at!, pid: e.pid }));
  expect(new Set(starts.map((e) => e.id)).size).toBe(240);
  expect(new Set(starts.map((e) => e.pid)).size).toBe(3);
  // no job starts clearly before a job of a higher priority: leases are popped in priority
  // order, and the processes' clocks are one clock (a few ms of reporting skew allowed)
  const latestStart = (p: number) => Math.max(...starts.filter((e) => priorityOf.get(e.id) === p).map((e) => e.at));
  const earliestStart = (p: number) => Math.min(...starts.filter((e) => priorityOf.get(e.id) === p).map((e) => e.at));
  expect(earliestStart(2)).toBeGreaterThanOrEqual(latestStart(3) - 20);
  expect(earliestStart(1)).toBeGreaterThanOrEqual(latestStart(2) - 20);
}, 60_000);

it('four producer processes adding one dedup key at once make exactly one job', async () => {
  const outs = await producers(4, 100, { KYOO_DEDUP_KEY: 'invoice:42' });
  const ids = new Set(outs.flatMap((o) => o.ids));
  expect(ids.size).toBe(1);
  expect(outs.reduce((n, o) => n + o.deduplicated, 0)).toBe(4 * 100 - 1);
  const q = s.track(new Queue(s.name, { connection: s.url }));
  expect(await q.counts()).toMatchObject({ ready: 1 });
  expect(await s.admin.hlen(s.keys.dedup)).toBe(1);
}, 60_000);

it('maxWaiting under four concurrent producers: exactly maxWaiting jobs accepted, the rest refused, never more waiting', async () => {
  const q = s.track(new Queue(s.name, { connection: s.url }));
  await q.setPolicy({ maxWaiting: 250 });
  const outs = await producers(4, 200);
  const accepted = outs.reduce((n, o) => n + o.ids.length, 0);
  const refused = outs.reduce((n, o) => n + o.refused, 0);
  expect(accepted).toBe(250);
  expect(refused).toBe(800 - 250);
  expect((await q.counts()).ready).toBe(250);
  expect(await s.admin.hlen(s.keys.jobs)).toBe(250 + 1); // the records, plus the listpack sentinel
}, 60_000);
