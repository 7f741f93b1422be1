// Schedules: cron and interval specs fired by workers (in their lease loop) or a standalone
// Scheduler, exactly one job per occurrence, a missed-run policy after downtime, limits and
// ends, pause/resume/remove that stop firing at once, and DST-correct next runs.
import { InvalidOptionError, Queue, ScheduleError, Scheduler, Worker, type ScheduleSpec } from 'kyoo';
import { ScheduleFirer, Scripts, decodeScheduleState } from '@kyoo/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, record, waitFor } from '../support/behaviour.js';
import { adminConnection } from '../support/redis.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('sched');
});
afterEach(async () => {
  await s.dispose();
});

const queue = <T = unknown>(): Queue<T> => s.track(new Queue<T>(s.name, { connection: s.url }));

/** Occurrence times of the jobs the schedule `id` made, ascending (from the job ids). */
async function occurrenceJobs(id: string): Promise<number[]> {
  const fields = await s.admin.hkeys(s.keys.jobs);
  return fields.filter((f) => f.startsWith(`${id}@`)).map((f) => Number(f.slice(id.length + 1))).sort((a, b) => a - b);
}

/** Waits until Redis's clock is `ms` past `at`. */
async function waitRedisPast(at: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await s.redisNow()) >= at, timeoutMs, `Redis time to pass ${at}`);
}

describe('schedule specs are validated before anything is written', () => {
  const cases: [string, unknown, string][] = [
    ['no timing', { data: 1 }, 'cron'],
    ['cron and everyMs', { cron: '* * * * *', everyMs: 1000 }, 'cron'],
    ['a bad cron field', { cron: '61 * * * *' }, 'cron'],
    ['a cron that never fires', { cron: '0 0 30 2 *' }, 'cron'],
    ['seven cron fields', { cron: '0 0 0 * * * *' }, 'cron'],
    ['an unknown time zone', { cron: '* * * * *', tz: 'Mars/Olympus' }, 'tz'],
    ['a time zone with everyMs', { everyMs: 1000, tz: 'Europe/Berlin' }, 'tz'],
    ['everyMs under 100', { everyMs: 10 }, 'everyMs'],
    ['endAt before startAt', { everyMs: 1000, startAt: Date.now() + 10_000, endAt: Date.now() + 5000 }, 'endAt'],
    ['endAt in the past', { everyMs: 1000, endAt: Date.now() - 1000 }, 'endAt'],
    ['a limit of 0', { everyMs: 1000, limit: 0 }, 'limit'],
    ['an unknown missed policy', { everyMs: 1000, missed: 'some' }, 'missed'],
    ['maxMissed without missed: all', { everyMs: 1000, missed: 'skip', maxMissed: 5 }, 'maxMissed'],
    ['maxMissed over 1000', { everyMs: 1000, missed: 'all', maxMissed: 5000 }, 'maxMissed'],
    ['toleranceMs under 100', { everyMs: 1000, toleranceMs: 10 }, 'toleranceMs'],
    ['a jobId', { everyMs: 1000, job: { jobId: 'x' } }, 'job.jobId'],
    ['a delay', { everyMs: 1000, job: { delayMs: 5 } }, 'job.delayMs'],
    ['bad attempts', { everyMs: 1000, job: { attempts: 0 } }, 'job.attempts'],
    ['a debounce', { everyMs: 1000, job: { dedup: { key: 'k', mode: 'debounce', ttlMs: 10 } } }, 'job.dedup.mode'],
    ['data that would not round-trip', { everyMs: 1000, data: new Map() }, 'data'],
    ['an unknown field', { everyMs: 1000, every: 5 }, 'spec.every'],
  ];
  it.each(cases)('%s', async (_label, spec, option) => {
    const q = queue();
    const err = await q.schedules.upsert('s', spec as ScheduleSpec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe(option);
    expect(await s.existingKeys()).toEqual([]);
  });

  it('refuses bad schedule ids', async () => {
    const q = queue();
    for (const id of ['', 'a\nb', 'x'.repeat(201), 42]) {
      await expect(q.schedules.upsert(id as string, { everyMs: 1000 })).rejects.toMatchObject({ option: 'id' });
    }
    expect(await s.existingKeys()).toEqual([]);
  });
});

describe('upsert, get and list', () => {
  it('creates, leaves an equal spec unchanged, and updates a changed one', async () => {
    const q = queue();
    const spec = { cron: '0 30 2 * * *', tz: 'Europe/Berlin', data: { kind: 'digest' } };
    expect(await q.schedules.upsert('nightly', spec)).toEqual({ outcome: 'created', revision: 1 });
    expect(await q.schedules.upsert('nightly', { ...spec })).toEqual({ outcome: 'unchanged', revision: 1 });
    const before = await q.schedules.get('nightly');
    expect(before).toMatchObject({ id: 'nightly', cron: '0 30 2 * * *', tz: 'Europe/Berlin', data: { kind: 'digest' }, missed: 'latest', paused: false, ended: false, runs: 0, lastRunAt: null, lastJobId: null });
    // a change of data keeps the pending occurrence
    expect(await q.schedules.upsert('nightly', { ...spec, data: { kind: 'digest', v: 2 } })).toEqual({ outcome: 'updated', revision: 2 });
    const after = await q.schedules.get('nightly');
    expect(after!.nextRunAt).toBe(before!.nextRunAt);
    expect(after!.data).toEqual({ kind: 'digest', v: 2 });
    // a change of timing computes it anew
    await q.schedules.upsert('nightly', { ...spec, tz: 'America/New_York' });
    const ny = await q.schedules.get('nightly');
    expect(new Date(ny!.nextRunAt!).toLocaleTimeString('en-GB', { timeZone: 'America/New_York' })).toBe('02:30:00');
    expect(await q.schedules.get('other')).toBeNull();
    await q.schedules.upsert('cleanup', { everyMs: 60_000 });
    expect((await q.schedules.list()).map((x) => x.id)).toEqual(['cleanup', 'nightly']);
  });

  it('computes the next run with the time zone rules across DST (Europe/Berlin, 2027, both directions)', async () => {
    const q = queue();
    // spring forward on 2027-03-28 at 01:00Z: 02:30 does not exist that night, the run comes right after the gap
    await q.schedules.upsert('spring', { cron: '30 2 * * *', tz: 'Europe/Berlin', startAt: Date.parse('2027-03-28T00:00:00Z') });
    expect(new Date((await q.schedules.get('spring'))!.nextRunAt!).toISOString()).toBe('2027-03-28T01:00:00.000Z');
    // fall back on 2027-10-31 at 01:00Z: 02:30 exists twice and runs at its first instance only, so a
    // schedule starting inside the repeated hour (02:15, second pass) next runs the day after
    await q.schedules.upsert('fall', { cron: '30 2 * * *', tz: 'Europe/Berlin', startAt: Date.parse('2027-10-31T01:15:00Z') });
    expect(new Date((await q.schedules.get('fall'))!.nextRunAt!).toISOString()).toBe('2027-11-01T01:30:00.000Z');
    // an every-hour expression follows real time through the repeated hour
    await q.schedules.upsert('hourly', { cron: '0 * * * *', tz: 'Europe/Berlin', startAt: Date.parse('2027-10-31T00:30:00Z') });
    expect(new Date((await q.schedules.get('hourly'))!.nextRunAt!).toISOString()).toBe('2027-10-31T01:00:00.000Z');
  });

  it('20 concurrent upserts of one spec make one schedule and one revision', async () => {
    const queues = Array.from({ length: 4 }, () => queue());
    const spec = { everyMs: 60_000, data: { n: 1 } };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => queues[i % 4]!.schedules.upsert('one', spec)));
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'unchanged')).toHaveLength(19);
    expect(await s.admin.hlen(s.keys.schedules)).toBe(1);
    expect(await s.admin.zcard(s.keys.schedule_next)).toBe(1);
    expect((await queues[0]!.schedules.get('one'))!.revision).toBe(1);
  });
});

describe('firing', () => {
  it('a worker fires a per-second cron: one job per occurrence, each knowing its schedule', async () => {
    const q = queue<{ kind: string }>();
    const seen: { id: string; occurrence: number }[] = [];
    s.trackWorker(new Worker<{ kind: string }>(s.name, (job) => void seen.push({ id: job.id, occurrence: job.schedule!.occurrence }), { connection: s.url }));
    await q.schedules.upsert('tick', { cron: '* * * * * *', data: { kind: 'tick' }, job: { attempts: 2 } });
    await waitFor(() => seen.length >= 3, 8000, 'three occurrences');
    const occ = seen.slice(0, 3).map((x) => x.occurrence);
    expect(occ[1]! - occ[0]!).toBe(1000);
    expect(occ[2]! - occ[1]!).toBe(1000);
    expect(seen[0]!.id).toBe(`tick@${occ[0]}`);
    const info = await q.schedules.get('tick');
    expect(info!.runs).toBeGreaterThanOrEqual(3);
    expect(info!.lastJobId).toBe(`tick@${info!.lastRunAt}`);
  });

  it('getJob of an occurrence job says where it came from', async () => {
    const q = queue();
    await q.setPolicy({ keepCompleted: { count: 10 } });
    const fired = deferred<string>();
    s.trackWorker(new Worker(s.name, (job) => fired.resolve(job.id), { connection: s.url }));
    await q.schedules.upsert('once', { everyMs: 500, limit: 1, data: 'x' });
    const id = await fired.promise;
    const occurrence = Number(id.split('@')[1]);
    await waitFor(async () => (await q.getJob(id))?.state === 'completed', 5000, 'the job to complete');
    expect(await q.getJob(id)).toMatchObject({ state: 'completed', data: 'x', schedule: { id: 'once', occurrence } });
  });

  it('any number of firers racing make one job per occurrence', async () => {
    const q = queue();
    await q.schedules.upsert('race', { everyMs: 1000, missed: 'all', maxMissed: 1000 });
    const next = (await q.schedules.get('race'))!.nextRunAt!;
    await waitRedisPast(next + 1500); // two occurrences due
    const conns = Array.from({ length: 8 }, () => adminConnection(s.url));
    s.defer(() => Promise.all(conns.map((c) => c.quit())));
    const errors: Error[] = [];
    const firers = conns.map((c) => new ScheduleFirer(c, new Scripts(s.keys), (e) => errors.push(e)));
    const results = await Promise.all(firers.map((f) => f.fire()));
    expect(errors).toEqual([]);
    expect(results.reduce((n, r) => n + r.fired, 0)).toBe(2);
    expect(await occurrenceJobs('race')).toEqual([next, next + 1000]);
    expect((await q.schedules.get('race'))!.runs).toBe(2);
  });

  it('a firer that read the schedule before a pause or remove writes nothing', async () => {
    const q = queue();
    for (const [id, stop] of [['p', (x: string) => q.schedules.pause(x)], ['r', (x: string) => q.schedules.remove(x)]] as const) {
      await q.schedules.upsert(id, { everyMs: 1000 });
      await waitRedisPast((await q.schedules.get(id))!.nextRunAt!);
      const due = await s.call('scheduleDue', { max: 10 });
      const d = due.due.find((x) => x.id === id)!;
      const rev = decodeScheduleState(d.state).rev;
      expect(await stop(id)).toBe(true);
      const job = { id: `${id}@${d.next}`, occurrence: d.next, opts: '', record: record('x') };
      const reply = await s.call('scheduleFire', { id, rev, expected: d.next, nextMs: d.next + 1000, skipped: 0, limit: 0, jobs: [job] });
      expect(reply.code).toBe(10); // STALE
      expect(await s.admin.zscore(s.keys.schedule_next, id)).toBeNull();
      expect(await s.admin.hexists(s.keys.jobs, job.id)).toBe(0);
    }
    expect(await q.schedules.get('p')).toMatchObject({ paused: true, nextRunAt: null });
    expect(await q.schedules.get('r')).toBeNull();
    expect(await q.schedules.pause('r')).toBe(false);
    expect(await q.schedules.remove('r')).toBe(false);
  });

  it('resume fires from the first occurrence after it, none for the paused time', async () => {
    const q = queue();
    await q.schedules.upsert('pr', { everyMs: 200 });
    await q.schedules.pause('pr');
    const pausedAt = await s.redisNow();
    await waitRedisPast(pausedAt + 600);
    const seen: number[] = [];
    s.trackWorker(new Worker(s.name, (job) => void seen.push(job.schedule!.occurrence), { connection: s.url }));
    const resumedAt = await s.redisNow();
    expect(await q.schedules.resume('pr')).toBe(true);
    await waitFor(() => seen.length >= 2, 5000, 'two runs after resume');
    expect(Math.min(...seen)).toBeGreaterThan(resumedAt);
  });

  it('limit and endAt end a schedule', async () => {
    const q = queue();
    const ran: string[] = [];
    s.trackWorker(new Worker(s.name, (job) => void ran.push(job.id), { connection: s.url }));
    await q.schedules.upsert('three', { everyMs: 100, limit: 3 });
    const endAt = (await s.redisNow()) + 450;
    await q.schedules.upsert('until', { everyMs: 100, endAt });
    await waitFor(async () => (await q.schedules.get('three'))!.ended && (await q.schedules.get('until'))!.ended, 5000, 'both to end');
    await waitFor(async () => (await q.counts()).ready + (await q.counts()).leased === 0, 5000, 'the jobs to run');
    expect(ran.filter((id) => id.startsWith('three@'))).toHaveLength(3);
    expect(await q.schedules.get('three')).toMatchObject({ runs: 3, nextRunAt: null, ended: true });
    const until = ran.filter((id) => id.startsWith('until@')).map((id) => Number(id.split('@')[1]));
    expect(until.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...until)).toBeLessThanOrEqual(endAt);
    expect(await s.admin.zcard(s.keys.schedule_next)).toBe(0);
  });

  it('a schedule with an until-complete dedup key makes no overlapping job', async () => {
    const q = queue();
    const release = deferred();
    const ran: string[] = [];
    s.trackWorker(new Worker(s.name, async (job) => {
      ran.push(job.id);
      await release.promise;
    }, { connection: s.url }));
    await q.schedules.upsert('solo', { everyMs: 100, job: { dedup: { key: 'solo' } } });
    await waitFor(async () => (await q.schedules.get('solo'))!.runs >= 4, 5000, 'four occurrences');
    expect(ran).toHaveLength(1);
    expect((await q.schedules.get('solo'))!.lastJobId).toBe(ran[0]);
    expect(await occurrenceJobs('solo')).toHaveLength(1);
    release.resolve();
  });

  it('occurrences a full queue refuses are counted and reported, never made later', async () => {
    const q = queue();
    await q.setPolicy({ maxWaiting: 1 });
    await q.pause();
    await q.add('filler');
    const errors: Error[] = [];
    const w = s.trackWorker(new Worker(s.name, () => undefined, { connection: s.url }));
    w.on('error', (e) => errors.push(e));
    await q.schedules.upsert('full', { everyMs: 100 });
    await waitFor(async () => (await q.schedules.get('full'))!.refused >= 2, 5000, 'two refused occurrences');
    expect(errors.some((e) => e instanceof ScheduleError && e.schedule === 'full' && /full/.test(e.message))).toBe(true);
    expect(await occurrenceJobs('full')).toEqual([]);
  });
});

describe('missed occurrences after downtime', () => {
  /** A schedule every second, left with nothing firing for about 3.4 s, then a scheduler starts at x.4 s. */
  async function downtime(spec: Partial<ScheduleSpec>): Promise<{ q: Queue; pending: number; startedAt: number }> {
    const q = queue();
    await q.schedules.upsert('m', { everyMs: 1000, toleranceMs: 100, ...spec });
    const pending = (await q.schedules.get('m'))!.nextRunAt!;
    await waitRedisPast(pending + 3400); // occurrences at pending, +1 s, +2 s, +3 s have passed
    const startedAt = await s.redisNow();
    s.track(new Scheduler(s.name, { connection: s.url }));
    await waitFor(async () => (await q.schedules.get('m'))!.lastFiredAt !== null, 5000, 'the scheduler to fire');
    return { q, pending, startedAt };
  }

  it("'skip' makes no job for them", async () => {
    const { q, pending } = await downtime({ missed: 'skip' });
    const info = (await q.schedules.get('m'))!;
    expect(await occurrenceJobs('m')).toEqual([]);
    expect(info.skipped).toBe(4);
    expect(info.nextRunAt).toBe(pending + 4000);
  });

  it("'latest' makes one job, for the latest of them", async () => {
    const { q, pending } = await downtime({ missed: 'latest' });
    expect(await occurrenceJobs('m')).toEqual([pending + 3000]);
    expect((await q.schedules.get('m'))!.skipped).toBe(3);
  });

  it("'all' makes one job for each, and maxMissed bounds them", async () => {
    const { q, pending } = await downtime({ missed: 'all' });
    expect(await occurrenceJobs('m')).toEqual([pending, pending + 1000, pending + 2000, pending + 3000]);
    expect((await q.schedules.get('m'))!.skipped).toBe(0);
  });

  it("'all' with maxMissed keeps the newest", async () => {
    const { q, pending } = await downtime({ missed: 'all', maxMissed: 2 });
    expect(await occurrenceJobs('m')).toEqual([pending + 2000, pending + 3000]);
    expect((await q.schedules.get('m'))!.skipped).toBe(2);
  });
});

it('a standalone scheduler fires without running jobs, and wakes for an upsert that comes sooner', async () => {
  const q = queue();
  await q.schedules.upsert('late', { everyMs: 3_600_000 });
  const scheduler = s.track(q.schedules.run());
  const fired = deferred<number>();
  scheduler.on('fired', (n) => fired.resolve(n));
  await q.schedules.upsert('soon', { everyMs: 500, limit: 1 });
  expect(await fired.promise).toBe(1);
  expect(await occurrenceJobs('soon')).toHaveLength(1);
  expect((await q.counts()).ready).toBe(1);
});

it("a scheduler's listeners: once fires once, and one that throws does not stop it", async () => {
  const q = queue();
  const scheduler = s.track(new Scheduler(s.name, { connection: s.url }));
  let onces = 0;
  let fired = 0;
  scheduler.once('fired', () => void onces++);
  scheduler.on('fired', (n) => {
    fired += n;
    throw new Error('a listener of yours');
  });
  await q.schedules.upsert('twice', { everyMs: 200, limit: 2 });
  await waitFor(async () => (await q.schedules.get('twice'))!.ended, 5000, 'both occurrences to fire');
  await waitFor(() => fired === 2, 5000, "the second 'fired' event");
  expect(onces).toBe(1);
});
