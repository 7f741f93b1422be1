// A worker process killed with SIGKILL mid-job: its leases expire, another worker runs the
// jobs again (that run counts as an attempt), and nothing is lost.
import { Redis } from 'ioredis';
import { Queue, Worker } from 'kyoo';
import { afterAll, describe, expect, test } from 'vitest';
import { cleanupPrefix, redisUrl, uniqueQueueName } from '../support/redis.js';
import { killAll, startWorkerProcess, waitFor, type WorkerEvent, type WorkerProcess } from '../support/worker-process.js';

const LEASE_MS = 1000;
const SLEEP_MS = 500;

const redis = new Redis(redisUrl());
afterAll(async () => {
  await killAll();
  await redis.quit();
});

describe('a worker process killed with SIGKILL mid-job', () => {
  test('its in-flight jobs run again on another worker after the lease expires; none is lost', async () => {
    const N = 64;
    const CONCURRENCY = 8;
    const name = uniqueQueueName('crash');
    const queue = new Queue<{ seq: number }>(name, { connection: redisUrl() });
    const procs: WorkerProcess[] = [];
    try {
      // All jobs are ready before the workers start, so each worker leases full batches of 8
      // that start (and end) together: between two batches there is a quiet moment mid-sleep.
      const ids = await queue.addBulk(Array.from({ length: N }, (_, seq) => ({ data: { seq } })));
      const all = new Set(ids);
      const common = { redisUrl: redisUrl(), queue: name, concurrency: CONCURRENCY, leaseMs: LEASE_MS, sleepMs: SLEEP_MS, keepCompleted: true };

      // the victim's handler runs that started and have not finished, by id -> arrival time of the start
      const victimRunning = new Map<string, number>();
      let victimFinished = 0;
      const victim = startWorkerProcess({
        ...common,
        onEvent: (e) => {
          if (e.t === 'start') victimRunning.set(e.id!, e.received);
          if (e.t === 'finish') {
            victimRunning.delete(e.id!);
            victimFinished++;
          }
        },
      });
      procs.push(victim);
      await victim.ready;
      const survivor = startWorkerProcess(common);
      procs.push(survivor);
      await survivor.ready;

      // Kill once the victim has finished a batch and is mid-sleep in the next one:
      // its newest run started >= 100 ms ago (no lease reply on its way) and its oldest
      // started <= 300 ms ago (none about to finish).
      await waitFor('a quiet moment in the victim, mid-job', () => {
        if (victimFinished < CONCURRENCY || victimRunning.size === 0) return false;
        const starts = [...victimRunning.values()];
        const now = Date.now();
        return now - Math.max(...starts) >= 100 && now - Math.min(...starts) <= SLEEP_MS - 200;
      }, 20_000, 5);
      const inFlightAtKill = new Set(victimRunning.keys());
      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');

      const everyone = () => procs.flatMap((p) => p.events);
      // Until every job is completed, or nothing is left to run (a job went to the DLQ instead).
      const completedIds = () => new Set(everyone().filter((e) => e.t === 'completed').map((e) => e.id!));
      await waitFor('every job completed, or none left to run', async () => {
        if (completedIds().size >= N) return true;
        const c = await queue.counts();
        return c.ready + c.delayed + c.leased === 0 && survivor.events.filter((e) => e.t === 'start').length === survivor.events.filter((e) => e.t === 'completed').length;
      }, 30_000, 100);
      // close() flushes the survivor's reports before it says 'closed': every event is in after it
      await survivor.close(10_000);
      expect((await survivor.exited).code, 'the survivor closed cleanly').toBe(0);

      const events = everyone();
      const byType = (t: WorkerEvent['t'], pid?: number) => events.filter((e) => e.t === t && (pid === undefined || e.pid === pid));
      const victimStarted = new Set(byType('start', victim.pid).map((e) => e.id!));
      const victimFinishedIds = new Set(byType('finish', victim.pid).map((e) => e.id!));
      const victimAcked = new Set(byType('completed', victim.pid).map((e) => e.id!));
      const startedNotFinished = new Set([...victimStarted].filter((id) => !victimFinishedIds.has(id)));

      // several jobs were in flight when it died (how many depends on how the two workers split
      // the backlog's lease batches; at least two is what makes this test about several)
      expect(inFlightAtKill.size).toBeGreaterThanOrEqual(2);
      expect(inFlightAtKill.size).toBeLessThanOrEqual(CONCURRENCY);
      expect(startedNotFinished).toEqual(inFlightAtKill);
      // every job was completed (none dead-lettered); nothing else was
      const deadJobs = await queue.dead.list({ limit: 100 });
      expect(deadJobs.map((j) => ({ id: j.id, attemptsMade: j.attemptsMade, attempts: j.attempts, lastError: j.lastError?.message })), 'jobs in the DLQ').toEqual([]);
      const completed = new Set(byType('completed').map((e) => e.id!));
      expect(completed).toEqual(all);
      // runs per job: twice exactly for the victim's started-but-unfinished jobs, once for all others
      const runs = new Map<string, WorkerEvent[]>();
      for (const e of byType('start')) runs.set(e.id!, [...(runs.get(e.id!) ?? []), e]);
      const ranTwice = new Set([...runs].filter(([, rs]) => rs.length > 1).map(([id]) => id));
      expect(ranTwice).toEqual(startedNotFinished);
      for (const [id, rs] of runs) expect(rs.length, `runs of job ${id}`).toBeLessThanOrEqual(2);
      expect(runs.size).toBe(N);
      // a job the victim finished was acked by it and never ran elsewhere
      for (const id of victimFinishedIds) expect(victimAcked.has(id), `victim acked ${id}`).toBe(true);
      // the second run was the survivor's, as attempt 2, after the lease expired
      const rerunDelays: number[] = [];
      for (const id of ranTwice) {
        const [first, second] = runs.get(id)!;
        expect(first).toMatchObject({ pid: victim.pid, attempt: 1 });
        expect(second).toMatchObject({ pid: survivor.pid, attempt: 2 });
        rerunDelays.push(second!.received - killedAt);
        expect(byType('completed', survivor.pid).some((e) => e.id === id)).toBe(true);
      }
      // the survivor lost no lease and saw no error, failure or dead letter
      expect(survivor.events.filter((e) => !['start', 'finish', 'completed'].includes(e.t))).toEqual([]);

      // getJob: the reclaim counted as an attempt, with a LeaseExpired entry in the history
      for (const id of ids) {
        const info = await queue.getJob(id);
        expect(info, `job ${id}`).not.toBeNull();
        expect(info!.state).toBe('completed');
        if (ranTwice.has(id)) {
          expect(info!.attemptsMade, `attemptsMade of reclaimed job ${id}`).toBe(2);
          expect(info!.errors).toHaveLength(1);
          expect(info!.errors[0]).toMatchObject({ name: 'LeaseExpired', attempt: 1 });
          expect(info!.errors[0]!.message).toMatch(/lease expired/);
        } else {
          expect(info!.attemptsMade, `attemptsMade of job ${id}`).toBe(1);
          expect(info!.errors).toEqual([]);
        }
      }
      expect(await queue.counts()).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0, completed: N });
      console.log(`crash: ${inFlightAtKill.size} jobs in flight at SIGKILL; rerun by the survivor ${Math.min(...rerunDelays)}-${Math.max(...rerunDelays)} ms after the kill (leaseMs ${LEASE_MS})`);
    } finally {
      await Promise.all(procs.map((p) => p.close(5000)));
      await queue.close();
      await cleanupPrefix(redis, `kyoo:{${name}}:`);
    }
  }, 120_000);

  /**
   * Adds one job, lets a worker process (concurrency 1, 5 s handler) start it, SIGKILLs the
   * process while the job runs, then starts an in-process worker on the same queue that
   * reclaims the expired lease. Returns what that worker saw.
   */
  async function killMidJob(name: string, queue: Queue<{ seq: number }>, attempts: number) {
    await queue.setPolicy({ keepCompleted: true });
    const victim = startWorkerProcess({ redisUrl: redisUrl(), queue: name, concurrency: 1, leaseMs: LEASE_MS, sleepMs: 5000 });
    try {
      await victim.ready;
      const id = await queue.add({ seq: 1 }, { attempts, backoff: { type: 'fixed', delayMs: 100, jitter: 0 } });
      await waitFor('the victim to start the job', () => victim.events.some((e) => e.t === 'start' && e.id === id), 10_000, 5);
      // the job is leased and its 5 s handler is running: killed mid-job
      expect((await queue.getJob(id))!.state).toBe('leased');
      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      expect(victim.events.filter((e) => e.t !== 'start')).toEqual([]);

      const ran: { id: string; attempt: number }[] = [];
      const errors: Error[] = [];
      const survivor = new Worker<{ seq: number }>(name, async (job) => { ran.push({ id: job.id, attempt: job.attempt }); }, {
        connection: redisUrl(), leaseMs: LEASE_MS,
      });
      survivor.on('error', (e) => errors.push(e));
      return { id, killedAt, ran, errors, survivor };
    } finally {
      await victim.kill();
    }
  }

  test('a job with attempts: 3 running on the killed worker is run again as attempt 2, not dead-lettered', async () => {
    const name = uniqueQueueName('crash-retry');
    const queue = new Queue<{ seq: number }>(name, { connection: redisUrl() });
    let survivor: Worker<{ seq: number }> | undefined;
    try {
      const r = await killMidJob(name, queue, 3);
      survivor = r.survivor;
      await waitFor('the job to be completed or dead-lettered', async () => {
        const c = await queue.counts();
        return c.completed + c.dead > 0;
      }, 10_000, 50);
      const info = await queue.getJob(r.id);
      expect({ state: info!.state, attemptsMade: info!.attemptsMade, attempts: info!.attempts, lastError: info!.lastError?.message }).toEqual({
        state: 'completed', attemptsMade: 2, attempts: 3, lastError: expect.stringMatching(/lease expired/),
      });
      expect(r.ran).toEqual([{ id: r.id, attempt: 2 }]);
      expect(info!.errors).toHaveLength(1);
      expect(info!.errors[0]).toMatchObject({ name: 'LeaseExpired', attempt: 1 });
      expect(r.errors).toEqual([]);
      expect(await queue.counts()).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0, completed: 1 });
    } finally {
      await survivor?.close(0);
      await queue.close();
      await cleanupPrefix(redis, `kyoo:{${name}}:`);
    }
  }, 120_000);

  test('a job with attempts: 1 running on the killed worker ends in the DLQ with a lease-expired error', async () => {
    const name = uniqueQueueName('crash-dlq');
    const queue = new Queue<{ seq: number }>(name, { connection: redisUrl() });
    let survivor: Worker<{ seq: number }> | undefined;
    try {
      const r = await killMidJob(name, queue, 1);
      survivor = r.survivor;
      await waitFor('the job to be dead-lettered', async () => (await queue.counts()).dead === 1, 10_000, 50);
      const deadAfter = Date.now() - r.killedAt;

      const info = await queue.getJob(r.id);
      expect(info).toMatchObject({ id: r.id, state: 'dead', attempts: 1, attemptsMade: 1, data: { seq: 1 } });
      expect(info!.errors).toHaveLength(1);
      expect(info!.lastError).toMatchObject({ name: 'LeaseExpired', attempt: 1 });
      expect(info!.lastError!.message).toMatch(/lease expired/);
      expect((await queue.dead.get(r.id))?.id).toBe(r.id);
      expect(r.ran).toEqual([]); // the reclaiming worker did not run it
      expect(r.errors).toEqual([]);
      expect(await queue.counts()).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 1 });
      // reclaimed no later than one lease after the kill (plus scheduling slack)
      expect(deadAfter).toBeLessThan(LEASE_MS + 1500);
      console.log(`crash-dlq: dead-lettered ${deadAfter} ms after the kill (leaseMs ${LEASE_MS})`);
    } finally {
      await survivor?.close(0);
      await queue.close();
      await cleanupPrefix(redis, `kyoo:{${name}}:`);
    }
  }, 120_000);

  test('the LeaseExpired entry records when the lease was reclaimed (JobError.at)', async () => {
    const name = uniqueQueueName('crash-at');
    const queue = new Queue<{ seq: number }>(name, { connection: redisUrl() });
    let survivor: Worker<{ seq: number }> | undefined;
    try {
      const r = await killMidJob(name, queue, 1);
      survivor = r.survivor;
      await waitFor('the job to be dead-lettered', async () => (await queue.counts()).dead === 1, 10_000, 50);
      const info = await queue.getJob(r.id);
      // Redis runs on this machine: its clock is ours. The lease ran out after the kill.
      const at = info!.lastError?.at;
      expect(typeof at).toBe('number');
      expect(at).toBeGreaterThanOrEqual(r.killedAt);
      expect(at).toBeLessThanOrEqual(Date.now());
      // stateSince (time of death, same clock) agrees
      expect(Math.abs(at! - info!.stateSince!)).toBeLessThan(5);
    } finally {
      await survivor?.close(0);
      await queue.close();
      await cleanupPrefix(redis, `kyoo:{${name}}:`);
    }
  }, 120_000);
});
