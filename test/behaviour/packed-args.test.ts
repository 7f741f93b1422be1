// The enqueue and ack scripts take their batch in one packed argument (scripts/build-lua.mjs,
// "packed"): lengths and numbers in binary, strings as UTF-8. Every kind of value a job carries
// must come back exactly: non-ASCII ids, group and dedup keys (the argument then travels as a
// Buffer, else as a string), records whose lengths need more than one byte, an empty and a
// large one, delays beyond 2^32 ms, and kept results with every byte value.
import { Queue, Worker } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('packed');
});
afterEach(async () => {
  await s.dispose();
});

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('packed script arguments', () => {
  it('round-trip ids, keys, records, delays and results exactly, in one batch of adds', async () => {
    const q = s.track(new Queue<{ text: string; pad: string }>(s.name, { connection: s.url }));
    await q.setPolicy({ keepCompleted: true });
    const jobs = [
      { data: { text: '', pad: '' }, opts: { jobId: 'plain-ascii' } },
      { data: { text: 'grüße ✓ 🙂', pad: 'x'.repeat(200) }, opts: { jobId: 'jöb-✓-🙂', group: 'grüppe-✓' } },
      { data: { text: 'dedup', pad: 'y'.repeat(70_000) }, opts: { dedup: { key: 'schlüssel-🙂' } } },
      { data: { text: 'later', pad: '' }, opts: { jobId: 'far-future', delayMs: 2 ** 33 + 7 } },
    ];
    // one tick: the first goes alone, the other three travel together in one packed argument
    const added = await Promise.all(jobs.map((j) => q.add(j.data, j.opts)));
    const ids = added.map((a) => (typeof a === 'string' ? a : a.id));
    expect(ids[0]).toBe('plain-ascii');
    expect(ids[1]).toBe('jöb-✓-🙂');
    expect(ids[3]).toBe('far-future');
    for (const [i, j] of jobs.entries()) {
      const got = await q.getJob(ids[i]!);
      expect(got!.data, `job ${i}`).toEqual(j.data);
    }
    expect((await q.getJob(ids[1]!))!.group).toBe('grüppe-✓');
    expect((await q.getJob(ids[2]!))!.dedupKey).toBe('schlüssel-🙂');
    expect(await q.groups.get('grüppe-✓')).toMatchObject({ waiting: 1 });
    const again = await q.add({ text: 'dedup', pad: '' }, { dedup: { key: 'schlüssel-🙂' } });
    expect(again).toEqual({ id: ids[2], deduplicated: true });
    // run-at is on Redis's clock, created-at on this one: equal to the delay within a second
    const far = await q.getJob('far-future');
    expect(far!.state).toBe('delayed');
    expect(Math.abs(far!.stateSince! - far!.createdAt - (2 ** 33 + 7))).toBeLessThan(1000);

    // the acks: non-ASCII ids in the packed ack, and results with every byte value
    const done = new Set<string>();
    s.trackWorker(new Worker<{ text: string; pad: string }>(s.name, (job) => {
      done.add(job.id);
      return { bytes: allBytes, text: job.data.text, id: job.id };
    }, { connection: s.url, concurrency: 4 }));
    await waitFor(async () => (await q.counts()).completed === 3, 10_000, 'three jobs completed');
    for (const id of ids.slice(0, 3)) {
      const r = await q.result<{ bytes: Uint8Array; text: string; id: string }>(id!);
      expect(Buffer.from(r.bytes).equals(allBytes), `result bytes of ${id}`).toBe(true);
      expect(r.id).toBe(id);
    }
    expect([...done].sort()).toEqual([ids[0], ids[1], ids[2]].sort());
  });
});
