// 10,000 jobs over 4 worker processes: every job is run and completed exactly once.
import { Redis } from 'ioredis';
import { Queue } from 'kyoo';
import { afterAll, expect, test } from 'vitest';
import { cleanupPrefix, redisUrl, uniqueQueueName } from '../support/redis.js';
import { killAll, startWorkerProcess, waitFor, type WorkerEvent, type WorkerProcess } from '../support/worker-process.js';

const JOBS = 10_000;
const WORKERS = 4;
const CONCURRENCY = 20;

const redis = new Redis(redisUrl());
afterAll(async () => {
  await killAll();
  await redis.quit();
});

test(`${JOBS} jobs added with addBulk over ${WORKERS} worker processes are each completed exactly once`, async () => {
  const name = uniqueQueueName('multi-worker');
  const queue = new Queue<{ seq: number }>(name, { connection: redisUrl() });
  const workers: WorkerProcess[] = [];
  const starts = new Map<string, WorkerEvent[]>();
  const finishes = new Map<string, WorkerEvent[]>();
  const completions = new Map<string, WorkerEvent[]>(); // ack applied, by job id
  const problems: WorkerEvent[] = [];
  const push = (m: Map<string, WorkerEvent[]>, e: WorkerEvent) => {
    const list = m.get(e.id!);
    if (list) list.push(e);
    else m.set(e.id!, [e]);
  };
  const onEvent = (e: WorkerEvent) => {
    if (e.t === 'start') push(starts, e);
    else if (e.t === 'finish') push(finishes, e);
    else if (e.t === 'completed') push(completions, e);
    else problems.push(e);
  };
  try {
    for (let i = 0; i < WORKERS; i++) {
      workers.push(startWorkerProcess({ redisUrl: redisUrl(), queue: name, concurrency: CONCURRENCY, sleepMs: 0, sleepJitterMs: 2, onEvent }));
    }
    await Promise.all(workers.map((w) => w.ready));

    // Workers are idle and blocked; the jobs arrive while they run (addBulk sends 1,000 per call).
    const t0 = Date.now();
    const ids = await queue.addBulk(Array.from({ length: JOBS }, (_, seq) => ({ data: { seq } })));
    const addedMs = Date.now() - t0;
    expect(ids).toHaveLength(JOBS);
    expect(new Set(ids).size).toBe(JOBS);

    await waitFor(`${JOBS} completions (have ${completions.size})`, () => completions.size >= JOBS, 90_000, 50);
    const drainedMs = Date.now() - t0;

    // Stop the workers gracefully: close() flushes each process's reports before it says
    // 'closed', so anything still in flight (a second run, a late ack) is in the events after it.
    await Promise.all(workers.map((w) => w.close()));
    for (const w of workers) expect((await w.exited).code, `worker ${w.pid} closed cleanly`).toBe(0);

    const added = new Set(ids);
    const completedIds = new Set(completions.keys());
    // exactly the added ids, and nothing else, were completed
    expect([...completedIds].filter((id) => !added.has(id))).toEqual([]);
    expect([...added].filter((id) => !completedIds.has(id))).toEqual([]);
    // none twice: not acked twice, not even run twice
    const ackedTwice = [...completions].filter(([, es]) => es.length > 1).map(([id, es]) => ({ id, by: es.map((e) => e.pid) }));
    const ranTwice = [...starts].filter(([, es]) => es.length > 1).map(([id, es]) => ({ id, by: es.map((e) => e.pid) }));
    expect(ackedTwice).toEqual([]);
    expect(ranTwice).toEqual([]);
    expect(starts.size).toBe(JOBS);
    expect(finishes.size).toBe(JOBS);
    // every run was attempt 1, finished by the process that started it, acked by that same process
    for (const id of ids) {
      const [s] = starts.get(id)!;
      const [f] = finishes.get(id)!;
      const [c] = completions.get(id)!;
      if (s!.attempt !== 1 || f!.pid !== s!.pid || c!.pid !== s!.pid) {
        expect({ id, start: s, finish: f, completed: c }).toEqual({ id, attempt: 1, samePid: true });
      }
    }
    // no errors, lost leases, failures or dead letters
    expect(problems).toEqual([]);
    // the work was shared
    const perWorker = workers.map((w) => w.events.filter((e) => e.t === 'completed').length);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(JOBS);
    // (how evenly depends on the machine; a worker left out would mean idle workers are not woken)
    for (const n of perWorker) expect(n).toBeGreaterThan(0);
    // each process ran at most `concurrency` handlers at once (events of one process arrive in order)
    const peaks = workers.map((w) => {
      let running = 0;
      let peak = 0;
      for (const e of w.events) {
        if (e.t === 'start') peak = Math.max(peak, ++running);
        else if (e.t === 'finish' || e.t === 'abort') running--;
      }
      return peak;
    });
    for (const peak of peaks) expect(peak).toBeLessThanOrEqual(CONCURRENCY);
    expect(Math.max(...peaks)).toBeGreaterThan(1);

    expect(await queue.counts()).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0, completed: 0 });
    // completed jobs are removed (no keepCompleted): getJob finds none of them
    const left = (await Promise.all(ids.map((id) => queue.getJob(id)))).filter((j) => j !== null);
    expect(left.map((j) => ({ id: j!.id, state: j!.state, attemptsMade: j!.attemptsMade }))).toEqual([]);

    console.log(`multi-worker: ${JOBS} jobs added in ${addedMs} ms, all completed after ${drainedMs} ms; per worker ${perWorker.join(' / ')}, peak concurrency ${peaks.join(' / ')}`);
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    await queue.close();
    await cleanupPrefix(redis, `kyoo:{${name}}:`);
  }
}, 120_000);
