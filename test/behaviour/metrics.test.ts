// Metrics: counters written by the scripts (exact), wait and processing histograms added by
// workers (a delay is not waiting), gauges read at the call, and the Prometheus exposition,
// checked by promtool, Prometheus's own checker.
import { spawnSync } from 'node:child_process';
import { InvalidOptionError, Queue, Worker, prometheusText, type QueueMetrics } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePromtool } from '../../scripts/lib/promtool.mjs';
import { Scope, deferred, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('metrics');
});
afterEach(async () => {
  await s.dispose();
});

/** The share of a histogram's observations at or below `ms`. */
const atMost = (h: QueueMetrics['wait'], ms: number): number => h.cumulative[h.boundsMs.indexOf(ms)]! / h.count;

describe('queue.metrics', () => {
  it('counts every outcome exactly, and the histograms see each run', async () => {
    const q = s.track(new Queue<{ kind: string }>(s.name, { connection: s.url }));
    const ok = await q.addBulk(Array.from({ length: 5 }, () => ({ data: { kind: 'ok' } })));
    await q.add({ kind: 'flaky' }, { attempts: 2, backoff: { type: 'fixed', delayMs: 0, jitter: 0 } });
    await q.add({ kind: 'doomed' }, { attempts: 1 });
    const cancelled = await q.add({ kind: 'never' }, { delayMs: 60_000 });
    expect(await q.cancel(cancelled)).toBe('cancelled');
    let flaky = 0;
    const w = new Worker<{ kind: string }>(s.name, async (job) => {
      await new Promise((r) => setTimeout(r, 60));
      if (job.data.kind === 'doomed' || (job.data.kind === 'flaky' && ++flaky === 1)) throw new Error('no');
    }, { connection: s.url, concurrency: 10, metricsFlushMs: 100 });
    await waitFor(async () => (await q.counts()).dead === 1 && (await q.counts()).ready + (await q.counts()).leased === 0, 10_000, 'every job to end');
    await w.close(); // flushes what it observed
    const m = await q.metrics();
    expect(m.counters).toEqual({ added: 8, started: 8, completed: 6, failed: 2, retried: 1, dead: 1, cancelled: 1, leaseExpired: 0, backedOff: 0, replayed: 0, removed: 0 });
    expect(m.processing.count).toBe(8);
    // every run slept 60 ms: in the (50, 100] ms bucket, none at or below 50
    expect(atMost(m.processing, 50)).toBe(0);
    expect(atMost(m.processing, 100)).toBe(1);
    expect(m.processing.sumMs).toBeGreaterThanOrEqual(8 * 59);
    expect(m.wait.count).toBe(8);
    expect(ok).toHaveLength(5);
  });

  it('wait time starts when a job becomes runnable: a delay or a backoff is not waiting', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const started = deferred();
    let runs = 0;
    s.trackWorker(new Worker(s.name, () => {
      if (++runs === 1) throw new Error('retry me');
      started.resolve();
    }, { connection: s.url, metricsFlushMs: 100 }));
    await q.add({}, { delayMs: 1500, attempts: 2, backoff: { type: 'fixed', delayMs: 1500, jitter: 0 } });
    await started.promise;
    await waitFor(async () => (await q.metrics()).wait.count === 2, 10_000, 'both runs to be flushed');
    const m = await q.metrics();
    // 1.5 s of delay and 1.5 s of backoff, yet each run started within a second of being due
    expect(atMost(m.wait, 1000)).toBe(1);
    expect(m.counters.retried).toBe(1);
  });

  it('a whole-ms sum flushed after a fractional one adds up (HINCRBY refuses a float field)', async () => {
    const flush = (by: number): Promise<unknown> => s.call('metricsFlush', { gone: '', deltas: [{ field: 'wait:sum', by }, { field: 'wait:count', by: 1 }] });
    await flush(1.25);
    await flush(2); // failed with "hash value is not an integer" before
    await flush(0.5);
    expect(await s.admin.hmget(s.keys.metrics, 'wait:sum', 'wait:count')).toEqual(['3.75', '3']);
    const q = s.track(new Queue(s.name, { connection: s.url }));
    expect((await q.metrics()).wait.sumMs).toBe(3.75);
  });

  it('gauges: jobs per state, the oldest waiting job, paused, workers and their slots', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.pause();
    await q.add({ n: 1 });
    const t0 = Date.now();
    await q.add({ n: 2 }, { delayMs: 60_000 });
    const release = deferred();
    const started = deferred();
    const w = s.trackWorker(new Worker(s.name, async () => {
      started.resolve();
      await release.promise;
    }, { connection: s.url, concurrency: 4 }));
    await waitFor(async () => (await q.metrics()).gauges.oldestWaitingMs >= 200, 5000, 'the waiting job to age');
    let m = await q.metrics();
    expect(m.gauges).toMatchObject({ ready: 1, delayed: 1, running: 0, paused: true });
    expect(m.gauges.oldestWaitingMs).toBeLessThan(Date.now() - t0 + 1000);
    await q.resume();
    await started.promise;
    // the worker said so with its lease call; with one job running, at the call after it leased
    await q.add({ n: 3 }, { delayMs: 60_000 });
    await waitFor(async () => (await q.metrics()).gauges.workers === 1, 5000, 'the worker to be seen');
    m = await q.metrics();
    expect(m.gauges).toMatchObject({ ready: 0, running: 1, paused: false, oldestWaitingMs: 0 });
    expect(m.gauges.busySlots + m.gauges.idleSlots).toBe(4);
    release.resolve();
    await w.close();
    expect((await q.metrics()).gauges).toMatchObject({ workers: 0, busySlots: 0, idleSlots: 0 });
  });

  it('the Prometheus exposition passes promtool, carries both histograms, and refuses unknown buckets', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.addBulk(Array.from({ length: 20 }, (_, n) => ({ data: { n } })));
    const w = new Worker(s.name, async () => new Promise((r) => setTimeout(r, 5)), { connection: s.url, concurrency: 5 });
    await waitFor(async () => (await q.counts()).ready + (await q.counts()).leased === 0, 10_000, 'the jobs to run');
    await w.close();
    const other = s.track(new Queue(`${s.name}-other`, { connection: s.url }));
    s.defer(() => s.admin.del(...Object.values(other.keys)));
    const text = prometheusText([await q.metrics(), await other.metrics()]);
    const check = spawnSync(ensurePromtool(), ['check', 'metrics'], { input: text });
    expect(String(check.stderr) + String(check.stdout)).toBe('');
    expect(check.status).toBe(0);
    expect(text).toContain(`kyoo_job_attempts_total{queue="${s.name}",outcome="completed"} 20`);
    expect(text).toContain(`kyoo_job_processing_seconds_count{queue="${s.name}"} 20`);
    expect(text).toContain(`kyoo_job_wait_seconds_bucket{queue="${s.name}",le="+Inf"} 20`);
    expect(text).toMatch(new RegExp(`^# TYPE kyoo_job_wait_seconds histogram$`, 'm'));
    expect(text).toContain(`kyoo_jobs{queue="${s.name}-other",state="ready"} 0`);
    const custom = prometheusText([await q.metrics()], { bucketsMs: [10, 100, 1000] });
    expect(custom.match(/kyoo_job_wait_seconds_bucket/g)).toHaveLength(4);
    expect(() => prometheusText([], { bucketsMs: [10, 15] })).toThrow(InvalidOptionError);
    expect(() => prometheusText([], { bucketsMs: [100, 10] })).toThrow(/increasing bounds/);
  });
});
