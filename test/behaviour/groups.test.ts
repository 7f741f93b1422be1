// Ordered groups: jobs of one group run in the order added, within the group's concurrency;
// groups take turns (a big group does not hold up a small one); a failed job holds its group
// for its retry (strict) or lets it go on (relaxed); cancel, remove and dead-lettering free the
// group; group keys and limits are validated before anything is written.
import { InvalidOptionError, Queue, Topic, Worker, type Job } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';
import { cleanupPrefix } from '../support/redis.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('groups');
});
afterEach(async () => {
  await s.dispose();
});

interface G {
  g: string;
  i: number;
}

/** Watches runs: per group, how many run at once (the most seen) and the order they started. */
class Tracker {
  readonly running = new Map<string, number>();
  readonly most = new Map<string, number>();
  readonly started: G[] = [];
  begin(d: G): void {
    const n = (this.running.get(d.g) ?? 0) + 1;
    this.running.set(d.g, n);
    this.most.set(d.g, Math.max(n, this.most.get(d.g) ?? 0));
    this.started.push(d);
  }
  end(d: G): void {
    this.running.set(d.g, (this.running.get(d.g) ?? 1) - 1);
  }
  orderOf(g: string): number[] {
    return this.started.filter((d) => d.g === g).map((d) => d.i);
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ordered groups', () => {
  it('runs each group in the order added, one at a time by default, groups in parallel', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    const groups = ['a', 'b', 'c', 'd', 'e'];
    await q.addBulk(Array.from({ length: 100 }, (_, k) => ({ data: { g: groups[k % 5]!, i: Math.floor(k / 5) }, opts: { group: groups[k % 5]! } })));
    expect(await q.counts()).toMatchObject({ ready: 100 });
    expect(await q.groups.get('a')).toMatchObject({ waiting: 20, running: 0, own: null });
    const t = new Tracker();
    const done = deferred();
    let n = 0;
    let overlapAcrossGroups = 0;
    s.trackWorker(new Worker<G>(s.name, async (job) => {
      t.begin(job.data);
      if ([...t.running.values()].filter((v) => v > 0).length > 1) overlapAcrossGroups++;
      await pause(2);
      t.end(job.data);
      if (++n === 100) done.resolve();
    }, { connection: s.url, concurrency: 10 }));
    await done.promise;
    for (const g of groups) {
      expect(t.orderOf(g)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(t.most.get(g)).toBe(1);
    }
    expect(overlapAcrossGroups).toBeGreaterThan(10); // different groups did run side by side
    await waitFor(async () => (await q.groups.count()) === 0, 5000, 'groups forgotten once idle');
  });

  it('never runs more of a group at once than its concurrency, the policy\'s or its own', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.setPolicy({ groups: { concurrency: 2 } });
    await q.groups.set('wide', { concurrency: 4 });
    expect((await q.groups.get('wide')).own).toEqual({ concurrency: 4, rateLimit: null, weight: 1 });
    const jobs = [...Array.from({ length: 40 }, (_, i) => ({ data: { g: 'two', i }, opts: { group: 'two' } })),
      ...Array.from({ length: 40 }, (_, i) => ({ data: { g: 'wide', i }, opts: { group: 'wide' } }))];
    await q.addBulk(jobs);
    const t = new Tracker();
    const done = deferred();
    let n = 0;
    s.trackWorker(new Worker<G>(s.name, async (job) => {
      t.begin(job.data);
      await pause(3);
      t.end(job.data);
      if (++n === 80) done.resolve();
    }, { connection: s.url, concurrency: 20 }));
    await done.promise;
    expect(t.most.get('two')).toBe(2);
    expect(t.most.get('wide')).toBe(4);
  });

  it('takes turns: a group of 10 finishes within its share while a group of 3,000 waits', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.setPolicy({ groups: { concurrency: 0 } });
    await q.addBulk(Array.from({ length: 3000 }, (_, i) => ({ data: { g: 'big', i }, opts: { group: 'big' } })));
    await q.addBulk(Array.from({ length: 10 }, (_, i) => ({ data: { g: 'small', i }, opts: { group: 'small' } })));
    const t = new Tracker();
    const done = deferred();
    s.trackWorker(new Worker<G>(s.name, (job) => {
      t.begin(job.data);
      if (t.orderOf('small').length === 10) done.resolve();
    }, { connection: s.url, concurrency: 10 }));
    await done.promise;
    // two groups take turns: the small group's k-th job starts within 2k starts, plus one lease batch in flight
    const lastSmall = t.started.findIndex((d) => d.g === 'small' && d.i === 9);
    expect(lastSmall).toBeLessThan(2 * 10 + 10);
    expect(t.orderOf('small')).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('with the default limits, groups take turns through the ready list: none gets two jobs ahead', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    // 50 groups of 10, added group after group (the worst order for a plain FIFO)
    for (let g = 0; g < 50; g++) await q.addBulk(Array.from({ length: 10 }, (_, i) => ({ data: { g: `g${g}`, i }, opts: { group: `g${g}` } })));
    // the default limits: each group's next job is in the ready list, the rest wait in its group
    expect(await q.counts()).toMatchObject({ ready: 500 });
    expect(await q.groups.get('g7')).toMatchObject({ waiting: 10, running: 0 });
    const t = new Tracker();
    const done = deferred();
    s.trackWorker(new Worker<G>(s.name, async (job) => {
      t.begin(job.data);
      await pause(1);
      t.end(job.data);
      if (t.started.length === 500) done.resolve();
    }, { connection: s.url, concurrency: 10 }));
    await done.promise;
    const at = new Map(t.started.map((d, n) => [`${d.g}/${d.i}`, n]));
    for (let g = 0; g < 50; g++) {
      expect(t.orderOf(`g${g}`)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      expect(t.most.get(`g${g}`)).toBe(1);
      // the k-th job of every group starts before the (k+2)-th of any other
      for (let k = 0; k + 2 < 10; k++) for (let h = 0; h < 50; h++) expect(at.get(`g${g}/${k}`)!).toBeLessThan(at.get(`g${h}/${k + 2}`)!);
    }
  });

  it('gives a group of weight 3 three starts for each of a group of weight 1', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.setPolicy({ groups: { concurrency: 0 } });
    await q.groups.set('heavy', { weight: 3 });
    await q.addBulk(Array.from({ length: 400 }, (_, i) => ({ data: { g: i % 2 ? 'heavy' : 'light', i }, opts: { group: i % 2 ? 'heavy' : 'light' } })));
    const t = new Tracker();
    const done = deferred();
    s.trackWorker(new Worker<G>(s.name, (job) => {
      t.begin(job.data);
      if (t.started.length === 200) done.resolve();
    }, { connection: s.url, concurrency: 4 }));
    await done.promise;
    const first = t.started.slice(0, 200);
    const heavy = first.filter((d) => d.g === 'heavy').length;
    expect(heavy).toBeGreaterThanOrEqual(145);
    expect(heavy).toBeLessThanOrEqual(155);
  });

  it('strict order (the default): a failed job holds its group until its retry has run', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    for (let i = 0; i < 5; i++) await q.add({ g: 'x', i }, { group: 'x', backoff: { type: 'fixed', delayMs: 150, jitter: 0 } });
    const runs: string[] = [];
    const done = deferred();
    s.trackWorker(new Worker<G>(s.name, (job) => {
      runs.push(`${job.data.i}#${job.attempt}`);
      if (job.data.i === 1 && job.attempt === 1) throw new Error('first run of 1 fails');
      if (job.data.i === 4) done.resolve();
    }, { connection: s.url, concurrency: 5 }));
    await done.promise;
    expect(runs).toEqual(['0#1', '1#1', '1#2', '2#1', '3#1', '4#1']);
  });

  it('relaxed order: the group goes on during the backoff, and the retry runs next when it is over', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.setPolicy({ groups: { order: 'relaxed' } });
    for (let i = 0; i < 3; i++) await q.add({ g: 'x', i }, { group: 'x', backoff: { type: 'fixed', delayMs: 300, jitter: 0 } });
    const runs: string[] = [];
    const done = deferred();
    s.trackWorker(new Worker<G>(s.name, (job) => {
      runs.push(`${job.data.i}#${job.attempt}`);
      if (job.data.i === 0 && job.attempt === 1) throw new Error('first run of 0 fails');
      if (runs.length === 4) done.resolve();
    }, { connection: s.url, concurrency: 5 }));
    await done.promise;
    expect(runs).toEqual(['0#1', '1#1', '2#1', '0#2']);
  });

  it('cancelling, removing or dead-lettering a job frees its group', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    const blocker = await q.add({ g: 'x', i: 0 }, { group: 'x' });
    await q.add({ g: 'x', i: 1 }, { group: 'x' });
    const dies = await q.add({ g: 'y', i: 0 }, { group: 'y', attempts: 1 });
    await q.add({ g: 'y', i: 1 }, { group: 'y' });
    const runs: string[] = [];
    const started = deferred();
    const release = deferred();
    const w = s.trackWorker(new Worker<G>(s.name, async (job, signal) => {
      runs.push(`${job.data.g}${job.data.i}`);
      if (job.data.g === 'x' && job.data.i === 0) {
        started.resolve();
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      }
      if (job.data.g === 'y' && job.data.i === 0) {
        await release.promise;
        throw new Error('dies: its one attempt');
      }
    }, { connection: s.url, concurrency: 4, heartbeatMs: 50 }));
    void w;
    await started.promise;
    await waitFor(() => runs.includes('y0'), 5000, 'y0 running');
    // x0 runs: cancelling it lets x1 start; y0 runs and will die: that frees y
    expect(await q.cancel(blocker)).toBe('cancelling');
    await waitFor(() => runs.includes('x1'), 5000, 'x1 after its group was freed by the cancel');
    release.resolve();
    await waitFor(() => runs.includes('y1'), 5000, 'y1 after y0 died');
    expect((await q.getJob(dies))?.state).toBe('dead');
    // a waiting job removed: the group goes on with the next
    await q.pause();
    await q.add({ g: 'z', i: 0 }, { group: 'z', jobId: 'z0' });
    await q.add({ g: 'z', i: 1 }, { group: 'z', jobId: 'z1' });
    expect(await q.remove('z0')).toBe(true);
    expect(await q.groups.get('z')).toMatchObject({ waiting: 1, running: 0 });
    await q.resume();
    // completed and not kept: gone once its ack lands (the handler's start is seen before that)
    await waitFor(async () => (await q.getJob('z1')) === null, 5000, 'z1 completed');
    expect(runs).toContain('z1');
    expect(runs).not.toContain('z0');
  });

  it('refuses bad group keys and limits, and priority with a group, writing nothing', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    for (const bad of ['', 'a\u0000b', 'a\u0001', 'x'.repeat(257), 7, '\uD800'] as unknown[]) {
      await expect(q.add({}, { group: bad as string })).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'group' });
    }
    await expect(q.add({}, { group: 'g', priority: 3 })).rejects.toMatchObject({ option: 'priority' });
    await expect(q.groups.set('g', { concurrency: -1 })).rejects.toMatchObject({ option: 'limits.concurrency' });
    await expect(q.groups.set('g', { weight: 0 })).rejects.toMatchObject({ option: 'limits.weight' });
    await expect(q.groups.set('g', { rateLimit: { max: 0, intervalMs: 10 } })).rejects.toMatchObject({ option: 'limits.rateLimit.max' });
    await expect(q.groups.set('g', { bogus: 1 } as never)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(q.setPolicy({ groups: { order: 'loose' as never } })).rejects.toMatchObject({ option: 'policy.groups.order' });
    await expect(q.setPolicy({ rateLimit: { max: 5 } as never })).rejects.toMatchObject({ option: 'policy.rateLimit.intervalMs' });
    await expect(q.setPolicy({ maxRunning: -1 })).rejects.toMatchObject({ option: 'policy.maxRunning' });
    expect(await s.existingKeys()).toEqual([]);
    // a group key of any script, round-tripped exactly
    const id = await q.add({}, { group: 'tenant:Zoë 🚀' });
    expect((await q.getJob(id))?.group).toBe('tenant:Zoë 🚀');
  });
});

describe('groups with the other features', () => {
  it('a delayed job joins its group when due, at its place by the order added', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.add({ g: 'x', i: 0 }, { group: 'x', delayMs: 100 });
    await q.add({ g: 'x', i: 1 }, { group: 'x' });
    await q.add({ g: 'x', i: 2 }, { group: 'x' });
    expect(await q.groups.get('x')).toMatchObject({ waiting: 2 });
    const runs: number[] = [];
    const done = deferred();
    s.trackWorker(new Worker<G>(s.name, async (job) => {
      runs.push(job.data.i);
      if (job.data.i === 1) await waitFor(async () => (await q.groups.get('x')).waiting === 2, 5000, 'the delayed job due');
      if (runs.length === 3) done.resolve();
    }, { connection: s.url, concurrency: 5 }));
    await done.promise;
    // 0 was not ready when 1 started; once due it goes ahead of 2, which was added after it
    expect(runs).toEqual([1, 0, 2]);
  });

  it('dedup and cancel work on grouped jobs; the group counts what waits', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.pause();
    const first = await q.add({ g: 'x', i: 0 }, { group: 'x', dedup: { key: 'once' } });
    expect(await q.add({ g: 'x', i: 1 }, { group: 'x', dedup: { key: 'once' } })).toEqual({ id: first.id, deduplicated: true });
    const second = await q.add({ g: 'x', i: 2 }, { group: 'x' });
    expect(await q.groups.get('x')).toMatchObject({ waiting: 2, running: 0 });
    expect(await q.cancel(first.id)).toBe('cancelled');
    expect(await q.groups.get('x')).toMatchObject({ waiting: 1 });
    expect((await q.getJob(first.id))?.group).toBe('x');
    const ran = deferred<number>();
    s.trackWorker(new Worker<G>(s.name, (job) => ran.resolve(job.data.i), { connection: s.url }));
    await q.resume();
    expect(await ran.promise).toBe(2);
    await waitFor(async () => (await q.getJob(second)) === null, 5000, 'the second job done');
    expect(await q.groups.count()).toBe(0);
  });

  it('a schedule\'s jobs and a topic\'s messages carry their group', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.pause();
    await q.schedules.upsert('tick', { everyMs: 100, limit: 1, data: { g: 'sched', i: 0 }, job: { group: 'sched' } });
    const topic = s.track(new Topic<G>(`${s.name}-t`, { connection: s.url }));
    s.defer(() => cleanupPrefix(s.admin, `kyoo:topic:{${s.name}-t}:`));
    await topic.subscribe(s.name);
    const { id } = await topic.publish({ g: 'pub', i: 0 }, { group: 'pub' });
    const runs: { id: string; g: string | undefined }[] = [];
    const done = deferred();
    s.trackWorker(new Worker<G>(s.name, async (job) => {
      runs.push({ id: job.id, g: (await q.getJob(job.id))?.group });
      if (runs.length === 2) done.resolve();
    }, { connection: s.url }));
    await q.resume();
    await done.promise;
    expect(runs.map((r) => r.g).sort()).toEqual(['pub', 'sched']);
    expect(runs.find((r) => r.g === 'pub')?.id).toBe(`${s.name}-t:${id}`);
  });
});

describe('group limits', () => {
  it('a group\'s rate limit holds its next job until allowed, and a worker wakes for it then', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.setPolicy({ groups: { rateLimit: { max: 1, intervalMs: 300 } } });
    const starts: number[] = [];
    const ran = [deferred(), deferred()];
    s.trackWorker(new Worker<G>(s.name, (job) => {
      starts[job.data.i] = Date.now();
      ran[job.data.i]!.resolve();
    }, { connection: s.url, concurrency: 4 }));
    await q.add({ g: 'x', i: 0 }, { group: 'x' });
    await ran[0]!.promise;
    await waitFor(async () => (await q.groups.get('x')).running === 0, 5000, 'x0 acked');
    // the group is idle, its rate state in use: a job added now waits for it, and no worker has a timer for it yet
    await q.add({ g: 'x', i: 1 }, { group: 'x' });
    await ran[1]!.promise;
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(290);
    expect(starts[1]! - starts[0]!).toBeLessThan(1500); // not the worker's maxIdleMs (5 minutes)
  });

  // the ack of job 0 goes out while the worker waits for a wake-up, asking for no jobs. With one
  // slot per group, the ack frees it and the group waits for its rate from then on: the ack wakes
  // a worker to arm a timer for it. With no slot limit, the group waited already: the timer the
  // lease set must stay, though the ack's reply, which did not look at the limits, knows of none
  it.each([1, 0])('a rate-limited job starts when allowed though an ack came back while the worker waited (group concurrency %i)', async (concurrency) => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.setPolicy({ groups: { concurrency, rateLimit: { max: 1, intervalMs: 300 } } });
    const starts: number[] = [];
    s.trackWorker(new Worker<G>(s.name, async (job) => {
      starts[job.data.i] = Date.now();
      if (job.data.i === 0) await pause(50);
    }, { connection: s.url, concurrency: 4 }));
    await q.addBulk([0, 1].map((i) => ({ data: { g: 'x', i }, opts: { group: 'x' } })));
    await waitFor(() => starts[1] !== undefined, 5000, 'job 1 started (not after the worker\'s maxIdleMs, 5 minutes)');
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(290);
    expect(starts[1]! - starts[0]!).toBeLessThan(1500);
  });

  it('a back-off of one group holds that group only', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    const { BackOffError } = await import('kyoo');
    await q.addBulk([{ data: { g: 'x', i: 0 }, opts: { group: 'x' } }, { data: { g: 'x', i: 1 }, opts: { group: 'x' } }]);
    const runs: { d: string; at: number; attempt: number }[] = [];
    let backedAt = 0;
    const ydone = deferred();
    const xdone = deferred();
    s.trackWorker(new Worker<G>(s.name, (job) => {
      runs.push({ d: `${job.data.g}${job.data.i}`, at: Date.now(), attempt: job.attempt });
      if (job.data.g === 'x' && job.data.i === 0 && backedAt === 0) {
        backedAt = Date.now();
        throw new BackOffError(300, { scope: 'group' });
      }
      if (job.data.g === 'y') ydone.resolve();
      if (job.data.g === 'x' && job.data.i === 1) xdone.resolve();
    }, { connection: s.url, concurrency: 4 })).on('backedOff', () => void q.add({ g: 'y', i: 0 }, { group: 'y' }));
    await ydone.promise;
    await xdone.promise;
    const y = runs.find((r) => r.d === 'y0')!;
    expect(y.at - backedAt).toBeLessThan(290); // y was not held
    const x = runs.filter((r) => r.d.startsWith('x'));
    expect(x.map((r) => `${r.d}#${r.attempt}`)).toEqual(['x0#1', 'x0#1', 'x1#1']);
    expect(x[1]!.at - backedAt).toBeGreaterThanOrEqual(290);
  });

  it('raising a group\'s concurrency lets its next job start at once', async () => {
    const q = s.track(new Queue<G>(s.name, { connection: s.url }));
    await q.addBulk([0, 1].map((i) => ({ data: { g: 'x', i }, opts: { group: 'x' } })));
    const second = deferred();
    const release = deferred();
    s.defer(() => release.resolve());
    s.trackWorker(new Worker<G>(s.name, async (job) => {
      if (job.data.i === 1) second.resolve();
      await release.promise; // both stay running until the check below
    }, { connection: s.url, concurrency: 4 }));
    await waitFor(async () => (await q.groups.get('x')).running === 1, 5000, 'x0 running');
    await q.groups.set('x', { concurrency: 2 });
    await second.promise; // x1 starts while x0 still runs
    expect((await q.groups.get('x')).running).toBe(2);
    release.resolve();
  });
});

describe('queue limits', () => {
  it('maxRunning: never more jobs running at once than the limit, across workers', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.setPolicy({ maxRunning: 3 });
    await q.addBulk(Array.from({ length: 60 }, (_, i) => ({ data: { i } })));
    let running = 0;
    let most = 0;
    let n = 0;
    const done = deferred();
    const handler = async (): Promise<void> => {
      most = Math.max(most, ++running);
      await pause(5);
      running--;
      if (++n === 60) done.resolve();
    };
    s.trackWorker(new Worker(s.name, handler, { connection: s.url, concurrency: 10 }));
    s.trackWorker(new Worker(s.name, handler, { connection: s.url, concurrency: 10 }));
    await done.promise;
    expect(most).toBe(3);
  });

  it('maxRunning: a job that dies frees its slot for a waiting job at once', async () => {
    const q = s.track(new Queue<{ i: number }>(s.name, { connection: s.url }));
    await q.setPolicy({ maxRunning: 1 });
    const release = deferred();
    s.defer(() => release.resolve());
    const second = deferred();
    s.trackWorker(new Worker<{ i: number }>(s.name, async (job) => {
      if (job.data.i === 1) return second.resolve();
      await release.promise;
      throw new Error('dies: its one attempt');
    }, { connection: s.url, concurrency: 2 }));
    await q.add({ i: 0 }, { attempts: 1 });
    await waitFor(async () => (await q.counts()).leased === 1, 5000, 'the first job running');
    await q.add({ i: 1 });
    release.resolve();
    await second.promise; // not after the worker's maxIdleMs
    expect((await q.counts()).dead).toBe(1);
  });

  it('rateLimit: at most max starts per interval (plus one burst), and the limit is used', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.setPolicy({ rateLimit: { max: 10, intervalMs: 200 } });
    await q.addBulk(Array.from({ length: 200 }, (_, i) => ({ data: { i } })));
    const starts: number[] = [];
    const handler = (): void => void starts.push(Date.now());
    s.trackWorker(new Worker(s.name, handler, { connection: s.url, concurrency: 20 }));
    s.trackWorker(new Worker(s.name, handler, { connection: s.url, concurrency: 20 }));
    await waitFor(() => starts.length >= 120, 10_000, '120 starts');
    const span = starts[119]! - starts[0]!;
    // 120 starts at 10 per 200 ms after a burst of 10: about 110 × 20 ms
    expect(span).toBeGreaterThanOrEqual(2100);
    expect(span).toBeLessThan(2800);
    // no window of one interval holds more than 2 × max (the burst and the steady rate)
    for (let i = 0; i + 20 < starts.length; i++) expect(starts[i + 20]! - starts[i]!).toBeGreaterThan(195);
  });

  it('a handler\'s BackOffError holds every worker back for its delay and uses no attempt', async () => {
    const q = s.track(new Queue<{ i: number }>(s.name, { connection: s.url }));
    await q.addBulk(Array.from({ length: 6 }, (_, i) => ({ data: { i }, opts: { attempts: 1 } })));
    const starts: { i: number; at: number; attempt: number }[] = [];
    const { BackOffError } = await import('kyoo');
    let thrownAt = 0;
    const backed = deferred<number>();
    // every other run takes 200 ms, so each worker's next lease comes well after the back-off is
    // applied, and no worker leases ahead (that needs handlers quicker than a call's round trip; with
    // 50 ms runs, a loaded machine can make one, and a job leased with job 2 then starts at once)
    const handler = async (job: Job<{ i: number }>): Promise<void> => {
      starts.push({ i: job.data.i, at: Date.now(), attempt: job.attempt });
      if (job.data.i === 2 && thrownAt === 0) {
        thrownAt = Date.now();
        throw new BackOffError(400);
      }
      await pause(200);
    };
    for (let k = 0; k < 2; k++) {
      s.trackWorker(new Worker(s.name, handler, { connection: s.url, concurrency: 1 })).on('backedOff', (_job, ms) => backed.resolve(ms));
    }
    expect(await backed.promise).toBe(400);
    await waitFor(() => starts.length === 7, 5000, 'all runs');
    // a job leased alongside the one that backed off started with it; every later start waited
    const after = starts.filter((r) => r.at > thrownAt + 25);
    expect(after.length).toBeGreaterThanOrEqual(3);
    // Date.now() is the workers' clock and the hold Redis's: allow a few ms between them
    for (const r of after) expect(r.at - thrownAt).toBeGreaterThanOrEqual(390);
    expect(starts.filter((r) => r.i === 2).map((r) => r.attempt)).toEqual([1, 1]);
    expect((await q.counts()).dead).toBe(0);
  });
});
