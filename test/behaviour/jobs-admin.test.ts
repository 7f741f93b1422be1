// The jobs of a queue by state, as the dashboard reads them through the library: counts and
// pages in each state's order, bounded searches with a cursor, running delayed jobs now, the
// lease holder and the options in a job's snapshot, and the workers the queue has heard from.
import { Queue, Worker, errorFingerprint, type JobState } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';

let s: Scope;
let q: Queue<Record<string, unknown>>;
beforeEach(() => {
  s = new Scope('jobs-admin');
  q = s.track(new Queue(s.name, { connection: s.url }));
});
afterEach(async () => {
  await s.dispose();
});

const ids = async (state: JobState, offset = 0, limit = 50): Promise<string[]> => (await q.jobs.list(state, { offset, limit })).jobs.map((j) => j.id);

/** Jobs that die at once with `message` (one attempt), run by a worker closed afterwards. */
async function dieAll(jobs: { jobId: string; data: Record<string, unknown>; message: string }[]): Promise<void> {
  const messages = new Map(jobs.map((j) => [j.jobId, j.message]));
  await q.addBulk(jobs.map((j) => ({ data: j.data, opts: { jobId: j.jobId, attempts: 1 } })));
  let dead = 0;
  const w = s.trackWorker(new Worker(s.name, async (job) => {
    throw new Error(messages.get(job.id)!);
  }, { connection: s.url, concurrency: 10 }));
  w.on('dead', () => void dead++);
  await waitFor(() => dead === jobs.length, 10_000, `${jobs.length} jobs to die`);
  await w.close();
}

describe('list', () => {
  it('pages each state in its order: waiting by priority, then the list, then grouped jobs behind their group\'s head', async () => {
    await q.add({ n: 1 }, { jobId: 'plain-1', priority: 0 });
    await q.add({ n: 2 }, { jobId: 'g-1', group: 'tenant' });
    await q.add({ n: 3 }, { jobId: 'g-2', group: 'tenant' });
    await q.add({ n: 4 }, { jobId: 'plain-2' });
    await q.add({ n: 5 }, { jobId: 'soon', delayMs: 60_000 });
    await q.add({ n: 6 }, { jobId: 'late', delayMs: 120_000 });
    expect(await q.jobs.count('ready')).toBe(4);
    expect(await ids('ready')).toEqual(['plain-1', 'g-1', 'plain-2', 'g-2']);
    expect(await ids('ready', 1, 2)).toEqual(['g-1', 'plain-2']);
    expect(await ids('ready', 3, 10)).toEqual(['g-2']);
    expect(await ids('ready', 4, 10)).toEqual([]);
    expect(await ids('delayed')).toEqual(['soon', 'late']);
    const page = await q.jobs.list('delayed', { limit: 1 });
    expect(page.total).toBe(2);
    expect(page.jobs[0]).toMatchObject({ id: 'soon', state: 'delayed', data: { n: 5 } });
  });

  it('lists jobs with a priority first, highest first', async () => {
    await q.add({}, { jobId: 'low', priority: 1 });
    await q.add({}, { jobId: 'high', priority: 9 });
    expect(await ids('ready')).toEqual(['high', 'low']);
  });

  it('lists dead, completed and cancelled jobs newest first, and running ones by lease deadline', async () => {
    await q.setPolicy({ keepCompleted: { count: 100 } });
    await dieAll([{ jobId: 'd1', data: {}, message: 'one' }]);
    await dieAll([{ jobId: 'd2', data: {}, message: 'two' }]);
    expect(await ids('dead')).toEqual(['d2', 'd1']);
    await q.add({}, { jobId: 'c1' });
    await q.add({}, { jobId: 'c2' });
    expect(await q.cancel('c1')).toBe('cancelled');
    expect(await q.cancel('c2')).toBe('cancelled');
    expect(await ids('cancelled')).toEqual(['c2', 'c1']);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const w = s.trackWorker(new Worker(s.name, () => held, { connection: s.url }));
    await q.add({}, { jobId: 'r1' });
    await waitFor(async () => (await q.jobs.count('leased')) === 1, 5000, 'r1 to run');
    const running = await q.jobs.list('leased');
    expect(running.jobs.map((j) => j.id)).toEqual(['r1']);
    // the snapshot says who holds the lease and until when
    expect(running.jobs[0]!.lease).toMatchObject({ worker: w.id, expiresAt: running.jobs[0]!.stateSince });
    expect(running.jobs[0]!.lease!.token).toMatch(new RegExp(`^1:\\d+:${w.id}\\.`));
    release();
    await waitFor(async () => (await q.jobs.count('completed')) === 1, 5000, 'r1 to complete');
    expect(await ids('completed')).toEqual(['r1']);
    const workers = await q.workers();
    expect(workers.map((x) => x.id)).toEqual([w.id]);
    expect(workers[0]).toMatchObject({ slots: 1, alive: true });
    expect(workers[0]!.lastSeenAt).toBeGreaterThan(Date.now() - 60_000);
    expect(workers[0]!.expiresAt).toBeGreaterThan(workers[0]!.lastSeenAt!);
  });

  it('refuses a bad state or page, naming it', async () => {
    await expect(q.jobs.list('waiting' as JobState)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'state' });
    await expect(q.jobs.list('ready', { limit: 0 })).rejects.toMatchObject({ option: 'page.limit' });
    await expect(q.jobs.list('ready', { offset: -1 })).rejects.toMatchObject({ option: 'page.offset' });
  });
});

describe('search', () => {
  it('finds by a data field, by text, by error text and by fingerprint', async () => {
    await dieAll([
      { jobId: 'a', data: { user: { id: 42 }, to: 'ann@example.com' }, message: 'smtp-1.example.com refused' },
      { jobId: 'b', data: { user: { id: '42' }, to: 'bob@example.com' }, message: 'smtp-2.example.com refused' },
      { jobId: 'c', data: { user: { id: 7 }, to: 'cat@example.com' }, message: 'template missing' },
    ]);
    const found = async (query: Parameters<typeof q.jobs.search>[1]) => (await q.jobs.search('dead', query)).jobs.map((j) => j.id).sort();
    expect(await found({ field: 'user.id', value: '42' })).toEqual(['a', 'b']); // the number 42 and the string "42"
    expect(await found({ field: 'user.id', value: '"42"' })).toEqual(['b']); // JSON: the string only
    expect(await found({ text: 'cat@' })).toEqual(['c']);
    expect(await found({ error: 'refused' })).toEqual(['a', 'b']);
    expect(await found({ error: 'Error: template' })).toEqual(['c']);
    const { fingerprint } = errorFingerprint((await q.getJob('a'))!.lastError);
    expect(await found({ fingerprint })).toEqual(['a', 'b']);
    expect(await found({ field: 'user.id', value: '42', error: 'smtp-2' })).toEqual(['b']);
    expect(await found({ field: 'user.missing', value: '42' })).toEqual([]);
  });

  it('looks at scanLimit jobs a call, and the cursor goes on from there to the end, each match once', async () => {
    await q.addBulk(Array.from({ length: 2500 }, (_, i) => ({ data: { n: i, even: i % 2 === 0 }, opts: { jobId: `j${i}` } })));
    const first = await q.jobs.search('ready', { field: 'even', value: 'true' }, { scanLimit: 1000, limit: 1000 });
    expect(first).toMatchObject({ total: 2500, scanned: 1000 });
    expect(first.jobs).toHaveLength(500);
    expect(first.cursor).toBeTypeOf('string');
    const seen = first.jobs.map((j) => j.id);
    let cursor = first.cursor;
    while (cursor) {
      const page = await q.jobs.search('ready', { field: 'even', value: 'true' }, { scanLimit: 1000, limit: 300, cursor });
      expect(page.scanned).toBeLessThanOrEqual(1000);
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.cursor;
    }
    expect(seen).toEqual(Array.from({ length: 1250 }, (_, i) => `j${i * 2}`));
  });

  it('refuses an empty query, a field without a value, a bad fingerprint or cursor', async () => {
    await expect(q.jobs.search('ready', {})).rejects.toMatchObject({ option: 'query' });
    await expect(q.jobs.search('ready', { field: 'a' })).rejects.toMatchObject({ option: 'query.value' });
    await expect(q.jobs.search('ready', { field: 'a..b', value: '1' })).rejects.toMatchObject({ option: 'query.field' });
    await expect(q.jobs.search('ready', { fingerprint: 'xyz' })).rejects.toMatchObject({ option: 'query.fingerprint' });
    await expect(q.jobs.search('ready', { text: 'a' }, { cursor: 'nope' })).rejects.toMatchObject({ option: 'options.cursor' });
  });
});

describe('runNow', () => {
  it('makes delayed jobs ready now, keeping their attempts; says which were not delayed', async () => {
    await q.add({ n: 1 }, { jobId: 'later', delayMs: 3_600_000, attempts: 4, timeoutMs: 9000, dedup: { key: 'k-later' } });
    await q.add({ n: 2 }, { jobId: 'now' });
    const snapshot = (await q.getJob('later'))!;
    expect(snapshot).toMatchObject({ timeoutMs: 9000, dedupKey: 'k-later', backoff: { type: 'exponential' } });
    expect(await q.jobs.runNow(['later', 'now', 'ghost'])).toEqual({ done: ['later'], notDelayed: ['now'], notFound: ['ghost'] });
    expect(await ids('ready')).toEqual(['now', 'later']);
    expect(await q.jobs.count('delayed')).toBe(0);
    const ran: string[] = [];
    const w = s.trackWorker(new Worker(s.name, async (job) => void ran.push(job.id), { connection: s.url }));
    await waitFor(() => ran.length === 2, 5000, 'both to run');
    expect(ran).toEqual(['now', 'later']);
    await w.close();
    await expect(q.jobs.runNow(42 as unknown as string)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'ids' });
  });

  it('puts a grouped delayed job back in its group, one at a time', async () => {
    await q.add({}, { jobId: 'g-late', group: 'g', delayMs: 3_600_000 });
    await q.add({}, { jobId: 'g-next', group: 'g' });
    expect((await q.jobs.runNow('g-late')).done).toEqual(['g-late']);
    expect(await q.groups.get('g')).toMatchObject({ waiting: 2 });
    // g-next held the group's slot already: g-late waits behind it, never beside it
    const ran: string[] = [];
    let running = 0;
    let most = 0;
    s.trackWorker(new Worker(s.name, async (job) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      ran.push(job.id);
    }, { connection: s.url, concurrency: 5 }));
    await waitFor(() => ran.length === 2, 5000, 'both to run');
    expect(ran).toEqual(['g-next', 'g-late']);
    expect(most).toBe(1);
  });
});
