// FIFO: one worker at concurrency 1 handles jobs in exactly the order they were added,
// whether they were added one by one, in one tick (one batched call) or with addBulk.
import { Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';

const N = 200;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

let s: Scope;
beforeEach(() => {
  s = new Scope('fifo');
});
afterEach(async () => {
  await s.dispose();
});

/**
 * Starts a concurrency-1 worker that records the order of handled payloads and job ids;
 * `drained(n)` resolves once n jobs were acked and nothing is left to run (so no second run
 * of any job can still come).
 */
function recorder(q: Queue<{ n: number }>): { seen: number[]; ids: string[]; worker: Worker<{ n: number }>; drained: (n: number, timeoutMs: number) => Promise<void> } {
  const seen: number[] = [];
  const ids: string[] = [];
  let completed = 0;
  const worker = s.trackWorker(
    new Worker<{ n: number }>(
      s.name,
      (job) => {
        seen.push(job.data.n);
        ids.push(job.id);
      },
      { connection: s.url, concurrency: 1 },
    ),
  );
  worker.on('completed', () => completed++);
  const drained = async (n: number, timeoutMs: number): Promise<void> => {
    await waitFor(() => completed >= n, timeoutMs, `${n} jobs handled and acked`);
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0 });
  };
  return { seen, ids, worker, drained };
}

describe('FIFO order at concurrency 1', () => {
  it('handles 200 jobs added one by one (awaited) in add order, while the worker runs', async () => {
    const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
    const { seen, ids, drained } = recorder(q);
    const added: string[] = [];
    for (const n of range(N)) added.push(await q.add({ n }));
    await drained(N, 10_000);
    expect(seen).toEqual(range(N));
    expect(ids).toEqual(added);
  });

  it('handles 200 jobs added in one tick (one batched call) in add order', async () => {
    const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
    const added = await Promise.all(range(N).map((n) => q.add({ n })));
    expect(new Set(added).size).toBe(N);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(added);
    const { seen, ids, drained } = recorder(q);
    await drained(N, 10_000);
    expect(seen).toEqual(range(N));
    expect(ids).toEqual(added);
  });

  it('handles 200 jobs from addBulk in array order', async () => {
    const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
    const { seen, ids, drained } = recorder(q);
    const added = await q.addBulk(range(N).map((n) => ({ data: { n } })));
    expect(added).toHaveLength(N);
    await drained(N, 10_000);
    expect(seen).toEqual(range(N));
    expect(ids).toEqual(added);
  });

  it('keeps order across addBulk calls larger than one script call (1,000 jobs) and with custom ids', async () => {
    const q = s.track(new Queue<{ n: number }>(s.name, { connection: s.url }));
    const total = 1200;
    // custom ids sort differently as strings than by position, so any reordering shows
    const added = await q.addBulk(range(total).map((n) => ({ data: { n }, opts: { jobId: `job-${(total - n) * 7919 % 10007}` } })));
    expect(added[0]).toBe(`job-${(total * 7919) % 10007}`);
    const { seen, ids, drained } = recorder(q);
    await drained(total, 20_000);
    expect(seen).toEqual(range(total));
    expect(ids).toEqual(added);
  });
});
