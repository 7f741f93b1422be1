// Pause / resume of a queue, and a worker's graceful close: in-flight jobs finish within the
// grace period, the rest are aborted and released at once to another worker, and close()
// always resolves.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, sleep, waitFor } from '../support/behaviour.js';
import { cleanupPrefix, uniqueQueueName } from '../support/redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let s: Scope;
beforeEach(() => {
  s = new Scope('pause-close');
});
afterEach(async () => {
  await s.dispose();
});

describe('pause and resume', () => {
  it('stops leasing while paused (adds stay ready) and restarts on resume', async () => {
    const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
    const seen: number[] = [];
    s.trackWorker(new Worker<{ n: number }>(s.name, (job) => void seen.push(job.data.n), { connection: s.named('w') }));
    await q.add({ n: 0 });
    await waitFor(() => seen.length === 1, 2000, 'the first job');

    await q.pause();
    expect(await q.isPaused()).toBe(true);
    expect((await q.counts()).paused).toBe(true);
    for (let n = 1; n <= 5; n++) await q.add({ n });
    // each add left a wake token: blocked again, the worker has looked at the queue since the
    // last add and leased nothing
    await s.waitBlocked('w');
    expect(seen).toEqual([0]);
    expect(await q.counts()).toMatchObject({ ready: 5, leased: 0, paused: true });

    const resumedAt = performance.now();
    await q.resume();
    expect(await q.isPaused()).toBe(false);
    await waitFor(() => seen.length === 6, 2000, 'the jobs added while paused');
    expect(performance.now() - resumedAt).toBeLessThan(500); // woken, not found by polling
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, paused: false });
  });

  it('lets a running job finish and ack while paused, without leasing the next one', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const started: string[] = [];
    const completed: string[] = [];
    const gate = deferred();
    const w = s.trackWorker(
      new Worker(
        s.name,
        async (job) => {
          started.push(job.id);
          if (started.length === 1) await gate.promise;
        },
        { connection: s.named('w') },
      ),
    );
    w.on('completed', (job) => completed.push(job.id));
    const first = await q.add({});
    await waitFor(() => started.length === 1, 2000, 'the first job to start');
    await q.pause();
    const second = await q.add({});
    gate.resolve();
    await waitFor(() => completed.length === 1, 2000, 'the running job to complete while paused');
    // the ack came back with no lease (paused): with its slot free the worker blocks, and
    // blocked it has leased nothing
    await s.waitBlocked('w');
    expect(started).toEqual([first]);
    expect(await q.getJob(second)).toMatchObject({ state: 'ready', attemptsMade: 0 });
    await q.resume();
    await waitFor(() => completed.length === 2, 2000, 'the second job after resume');
    expect(completed).toEqual([first, second]);
  });
});

describe('worker.close()', () => {
  it('lets in-flight jobs finish within the grace period: they complete, they are not retried', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const started: string[] = [];
    const aborted: string[] = [];
    const w = new Worker(
      s.name,
      async (job, signal) => {
        started.push(job.id);
        signal.addEventListener('abort', () => aborted.push(job.id));
        await sleep(200);
        return job.id;
      },
      { connection: s.url, concurrency: 3 },
    );
    s.trackWorker(w);
    const completed: string[] = [];
    const failed: string[] = [];
    w.on('completed', (job) => completed.push(job.id));
    w.on('failed', (job) => failed.push(job.id));
    const ids = await Promise.all([q.add({}), q.add({}), q.add({})]);
    await waitFor(() => started.length === 3, 2000, 'three jobs to start');

    const t0 = performance.now();
    await w.close(5000);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(100); // it waited for the handlers...
    expect(took).toBeLessThan(2000); // ...not for the grace period
    expect(aborted).toEqual([]);
    expect(failed).toEqual([]);
    expect(completed.sort()).toEqual([...ids].sort());
    for (const id of ids) expect(await q.getJob(id)).toBeNull();
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0 });
    expect(started).toHaveLength(3); // nothing ran twice
  });

  it('stops leasing at once: a job added during the grace period stays ready', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const started: string[] = [];
    const w = s.trackWorker(
      new Worker(
        s.name,
        async (job) => {
          started.push(job.id);
          await sleep(200);
        },
        { connection: s.url },
      ),
    );
    await q.add({});
    await waitFor(() => started.length === 1, 2000, 'the first job to start');
    const closing = w.close(5000);
    const late = await q.add({});
    await closing;
    expect(started).toHaveLength(1);
    expect(await q.getJob(late)).toMatchObject({ state: 'ready', attemptsMade: 0 });
  });

  it('aborts jobs still running past the grace and releases them at once, attempts not counted, to another worker', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const LEASE_MS = 10_000;
    const startedA: string[] = [];
    const abortedA: { id: string; reason: unknown; at: number }[] = [];
    const a = new Worker(
      s.name,
      async (job, signal) => {
        startedA.push(job.id);
        await new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => resolve(), { once: true });
          setTimeout(resolve, 5000);
        });
        abortedA.push({ id: job.id, reason: signal.reason, at: performance.now() });
        throw signal.reason ?? new Error('not aborted');
      },
      { connection: s.url, concurrency: 2, leaseMs: LEASE_MS },
    );
    s.trackWorker(a);
    const eventsA: string[] = [];
    for (const ev of ['completed', 'failed', 'retried', 'dead'] as const) a.on(ev, () => eventsA.push(ev));
    const ids = await Promise.all([q.add({ n: 1 }, { attempts: 1 }), q.add({ n: 2 }, { attempts: 1 })]);
    await waitFor(() => startedA.length === 2, 2000, 'worker A to start both jobs');
    expect(await q.getJob(ids[0]!)).toMatchObject({ state: 'leased', attemptsMade: 1 });

    // B is idle, blocked until something wakes it (the leases run for 10 s)
    const startedB: { id: string; attempt: number; at: number }[] = [];
    const b = s.trackWorker(
      new Worker(s.name, (job) => void startedB.push({ id: job.id, attempt: job.attempt, at: performance.now() }), {
        connection: s.named('b'),
        concurrency: 2,
        leaseMs: LEASE_MS,
      }),
    );
    const completedB: string[] = [];
    b.on('completed', (job) => completedB.push(job.id));
    await s.waitBlocked('b');
    expect(startedB).toEqual([]);

    const t0 = performance.now();
    await a.close(200);
    const closedAt = performance.now();
    expect(closedAt - t0).toBeGreaterThanOrEqual(190);
    expect(closedAt - t0).toBeLessThan(2000);
    expect(abortedA.map((x) => x.id).sort()).toEqual([...ids].sort());
    for (const x of abortedA) {
      expect(x.at - t0).toBeGreaterThanOrEqual(190);
      expect(x.reason).toBeInstanceOf(Error);
    }

    await waitFor(() => completedB.length === 2, 2000, 'worker B to take over the released jobs');
    expect(startedB.map((x) => x.id).sort()).toEqual([...ids].sort());
    for (const x of startedB) {
      expect(x.attempt).toBe(1); // the released run was given back
      expect(x.at - closedAt).toBeLessThan(1000); // far sooner than the 10 s lease
    }
    // A reports nothing for runs it gave away (B's runs took several round trips after A's
    // close() resolved: anything A still had pending would have been emitted by now)
    expect(eventsA).toEqual([]);
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, dead: 0 });
  });

  it('puts released jobs back at the front of ready with attempts not increased', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const started: string[] = [];
    const w = s.trackWorker(
      new Worker(
        s.name,
        async (job, signal) => {
          started.push(job.id);
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        },
        { connection: s.url, leaseMs: 10_000 },
      ),
    );
    const first = await q.add({});
    await waitFor(() => started.length === 1, 2000, 'the first job to start');
    const second = await q.add({});
    await w.close(50);
    expect(started).toEqual([first]);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual([first, second]);
    expect(await q.getJob(first)).toMatchObject({ state: 'ready', attemptsMade: 0 });
    expect(await q.counts()).toMatchObject({ ready: 2, leased: 0 });
  });

  it('releases 1,200 running jobs back to the front in their order, ahead of the jobs never leased', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const ids = await q.addBulk(Array.from({ length: 1500 }, (_, n) => ({ data: { n } })));
    let started = 0;
    const w = s.trackWorker(new Worker(s.name, async (_job, signal) => {
      started++;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }, { connection: s.url, concurrency: 1200, leaseMs: 10_000 }));
    await waitFor(() => started === 1200, 5000, '1,200 jobs to start');
    await w.close(50);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(ids);
    expect(await q.counts()).toMatchObject({ ready: 1500, leased: 0 });
  });

  it('always resolves: idle, never started, twice, with grace 0', async () => {
    const idle = new Worker(s.name, () => undefined, { connection: s.named('idle') });
    await s.waitBlocked('idle');
    const t0 = performance.now();
    await idle.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await idle.close(); // again
    expect(idle.isRunning()).toBe(false);

    const never = new Worker(s.name, () => undefined, { connection: s.url, autostart: false });
    await never.close();
    expect(never.isRunning()).toBe(false);

    const quick = new Worker(s.name, () => undefined, { connection: s.url });
    await Promise.all([quick.close(0), quick.close(0)]);
    expect(quick.isRunning()).toBe(false);
  });

  it('resolves even when Redis cannot be reached', async () => {
    // a port that accepts and hangs up at once: every connection attempt fails, and is retried
    let attempts = 0;
    const refuser = createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => refuser.listen(0, '127.0.0.1', resolve));
    s.defer(() => new Promise((resolve) => refuser.close(resolve)));
    const { port } = refuser.address() as AddressInfo;
    const w = new Worker(s.name, () => undefined, { connection: `redis://127.0.0.1:${port}` });
    w.on('error', () => undefined);
    // both of its connections tried, and at least one is retrying: the worker is stuck connecting
    await waitFor(() => attempts >= 3, 5000, 'the worker to try to connect, and to try again');
    const t0 = performance.now();
    await w.close();
    expect(performance.now() - t0).toBeLessThan(10_000);
  }, 20_000);

  it('does not keep the process alive for the rest of the grace period once the jobs are done', async () => {
    const name = uniqueQueueName('close-exit');
    // a worker process: one 50 ms job, then close() with a 5 s grace, then nothing left to do
    const script = `
      import { Queue, Worker } from 'kyoo';
      const url = process.env.KYOO_TEST_URL, name = process.env.KYOO_TEST_QUEUE;
      const q = new Queue(name, { connection: url });
      let started; const running = new Promise((r) => (started = r));
      const w = new Worker(name, async () => { started(); await new Promise((r) => setTimeout(r, 50)); }, { connection: url, closeGraceMs: 5000 });
      await q.add({});
      await running;
      const t0 = Date.now();
      await w.close();
      await q.close();
      console.log('closed', Date.now() - t0);
      process.on('exit', () => console.log('exit', Date.now() - t0));
    `;
    try {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: ROOT,
        env: { ...process.env, KYOO_TEST_URL: s.url, KYOO_TEST_QUEUE: name },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.on('exit', (c) => {
          clearTimeout(kill);
          resolve(c);
        });
      });
      expect(err).toBe('');
      expect(code).toBe(0);
      const closed = Number(/closed (\d+)/.exec(out)?.[1]);
      const exited = Number(/exit (\d+)/.exec(out)?.[1]);
      expect(closed).toBeLessThan(1000);
      // nothing is left to wait for: the process should end right after close(), not 5 s later
      expect(exited).toBeLessThan(1500);
    } finally {
      await cleanupPrefix(s.admin, `kyoo:{${name}}:`);
    }
  }, 20_000);
});
