// Progress: a running job reports how far it is; getJob, the events stream and a waiting
// producer see it. A report is fenced by the run's lease, refused when JSON would change it,
// and deleted with its job.
import { InvalidOptionError, Queue, Worker, type JobProgress, type QueueEvent } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('progress');
});
afterEach(async () => {
  await s.dispose();
});

describe('job.progress', () => {
  it('reaches getJob, the events stream and a waiting producer, in order', async () => {
    const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
    await q.setPolicy({ keepCompleted: true });
    const id = await q.add({ n: 3 });
    const heard: JobProgress[] = [];
    const reported = deferred();
    const release = deferred();
    const more = deferred();
    const waited = q.result<string>(id, { onProgress: (p) => heard.push(p) });
    s.trackWorker(new Worker<{ n: number }>(s.name, async (job) => {
      expect(await job.progress({ done: 1, of: job.data.n })).toBe(true);
      await more.promise;
      for (let i = 2; i <= job.data.n; i++) expect(await job.progress({ done: i, of: job.data.n })).toBe(true);
      reported.resolve();
      await release.promise;
      return 'thumbs';
    }, { connection: s.url }));
    // the first report reaches the wait once, whether it came before the wait had its place in the stream or after
    await waitFor(() => heard.length === 1, 5000, 'the first report');
    more.resolve();
    await reported.promise;
    const info = await q.getJob(id);
    expect(info?.state).toBe('leased');
    expect(info?.progress).toMatchObject({ value: { done: 3, of: 3 }, attempt: 1 });
    expect(Math.abs(info!.progress!.at - (await s.redisNow()))).toBeLessThan(5000);
    release.resolve();
    expect(await waited).toBe('thumbs');
    expect(heard.map((p) => p.value)).toEqual([{ done: 1, of: 3 }, { done: 2, of: 3 }, { done: 3, of: 3 }]);
    expect(heard.every((p) => p.attempt === 1)).toBe(true);
    // the events stream holds each report with its value
    const events: QueueEvent[] = [];
    for await (const e of q.events({ from: '0' })) {
      events.push(e);
      if (e.type === 'completed') break;
    }
    expect(events.filter((e) => e.type === 'progress').map((e) => [e.jobId, e.attempt, e.progress])).toEqual([
      [id, 1, { done: 1, of: 3 }], [id, 1, { done: 2, of: 3 }], [id, 1, { done: 3, of: 3 }],
    ]);
  });

  it('a wait that begins while the job runs hears the latest report first', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({});
    const reported = deferred();
    const release = deferred();
    s.trackWorker(new Worker(s.name, async (job) => {
      await job.progress(40);
      reported.resolve();
      await release.promise;
      await job.progress(90);
    }, { connection: s.url }));
    await reported.promise;
    const heard: number[] = [];
    const first = deferred();
    const waited = q.result(id, { onProgress: (p) => { heard.push(p.value as number); first.resolve(); } });
    await first.promise;
    release.resolve();
    await waited;
    expect(heard).toEqual([40, 90]);
  });

  it('is refused when JSON would not carry it exactly, and writes nothing', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({});
    const outcomes = deferred<unknown[]>();
    s.trackWorker(new Worker(s.name, async (job) => {
      const bad: unknown[] = [NaN, Infinity, -0, undefined, new Date(0), new Map(), { at: new Date(0) }, [1, , 3], 'x'.repeat(5000), () => 1];
      const out: unknown[] = [];
      for (const v of bad) out.push(await job.progress(v as never).then(() => 'written', (e: unknown) => e));
      outcomes.resolve(out);
    }, { connection: s.url }));
    const out = await outcomes.promise;
    for (const o of out) {
      expect(o).toBeInstanceOf(InvalidOptionError);
      expect((o as InvalidOptionError).option).toBe('progress');
    }
    expect((out[6] as Error).message).toMatch(/^invalid progress: at is an instance of Date/);
    expect((out[8] as Error).message).toMatch(/5002 bytes as JSON, more than 4096/);
    await waitFor(async () => (await q.getJob(id)) === null, 5000, 'the job to complete');
    expect(await s.admin.hlen(s.keys.progress)).toBe(0);
  });

  it('after the run lost the job (cancelled) reports nothing and resolves false', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({});
    const started = deferred();
    const after = deferred<boolean>();
    const cancelled = deferred();
    const w = s.trackWorker(new Worker(s.name, async (job, signal) => {
      started.resolve();
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      after.resolve(await job.progress(99));
    }, { connection: s.url, heartbeatMs: 100 }));
    w.on('cancelled', () => cancelled.resolve());
    await started.promise;
    expect(await q.cancel(id)).toBe('cancelling');
    expect(await after.promise).toBe(false);
    expect(await s.admin.hexists(s.keys.progress, id)).toBe(0);
  });

  it('is deleted with its job: completed (not kept), removed, purged, replayed', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const plain = await q.add({ kind: 'ok' });
    const doomed = await q.add({ kind: 'die' }, { attempts: 1 });
    const reported = new Set<string>();
    const died = deferred();
    const w = s.trackWorker(new Worker<{ kind: string }>(s.name, async (job) => {
      await job.progress(50);
      reported.add(job.id);
      if (job.data.kind === 'die') throw new Error('no');
    }, { connection: s.url }));
    w.on('dead', () => died.resolve());
    await died.promise;
    await waitFor(async () => (await q.getJob(plain)) === null, 5000, 'the plain job to complete');
    expect(reported).toEqual(new Set([plain, doomed]));
    // the dead job keeps its last progress for inspection; replay starts it afresh
    expect((await q.getJob(doomed))?.progress?.value).toBe(50);
    expect(await s.admin.hexists(s.keys.progress, plain)).toBe(0);
    await w.close();
    await q.dead.replay([doomed]);
    expect((await q.getJob(doomed))?.progress).toBeUndefined();
    // removal deletes it too
    await s.admin.hset(s.keys.progress, doomed, '1,1,7');
    expect((await q.getJob(doomed))?.progress?.value).toBe(7);
    await q.remove(doomed);
    expect(await s.admin.hlen(s.keys.progress)).toBe(0);
  });

  it('many reports while one is in flight: only the newest waiting one is sent', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({});
    const results = deferred<boolean[]>();
    s.trackWorker(new Worker(s.name, async (job) => {
      const all = [];
      for (let i = 1; i <= 100; i++) all.push(job.progress(i));
      results.resolve(await Promise.all(all));
    }, { connection: s.url }));
    const out = await results.promise;
    expect(out.every((ok) => ok)).toBe(true);
    const entries = (await s.admin.xrange(s.keys.events, '-', '+')) as [string, string[]][];
    const values = entries.filter(([, f]) => f[1] === 'progress').map(([, f]) => Number(f[f.indexOf('p') + 1]));
    // the first goes at once, then the newest of those that waited: 1 and 100
    expect(values).toEqual([1, 100]);
    void id;
  });
});
