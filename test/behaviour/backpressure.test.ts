// Backpressure: the policy's maxWaiting bounds ready + delayed jobs; an add beyond it is
// refused with QueueFullError and writes nothing (addBulk: all or nothing).
import { QueueFullError, Queue } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('full');
});
afterEach(async () => {
  await s.dispose();
});

describe('maxWaiting', () => {
  it('refuses the add beyond it with QueueFullError, writing nothing; room comes back as jobs leave', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.setPolicy({ maxWaiting: 3 });
    const ids = [await q.add({ n: 1 }), await q.add({ n: 2 }, { delayMs: 60_000 }), await q.add({ n: 3 }, { priority: 4 })];
    const err = await q.add({ n: 4 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect(err).toMatchObject({ code: 'QUEUE_FULL', queue: s.name, refused: 1 });
    expect(await q.counts()).toMatchObject({ ready: 2, delayed: 1 });
    expect(await s.admin.hlen(s.keys.jobs)).toBe(3 + 1); // 3 records + the listpack sentinel
    await q.remove(ids[0]!);
    await q.add({ n: 5 });
    expect(await q.counts()).toMatchObject({ ready: 2, delayed: 1 });
  });

  it('addBulk is all or nothing; same-tick adds are refused one by one', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.setPolicy({ maxWaiting: 5 });
    await q.addBulk([1, 2, 3].map((n) => ({ data: { n } })));
    const err = await q.addBulk([4, 5, 6].map((n) => ({ data: { n } }))).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect(await q.counts()).toMatchObject({ ready: 3 });
    // three add() calls in one tick (the first goes at once, the others as one call): two fit, the third is refused alone
    const results = await Promise.allSettled([q.add({ n: 7 }), q.add({ n: 8 }), q.add({ n: 9 })]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(QueueFullError);
    expect(await q.counts()).toMatchObject({ ready: 5 });
  });

  it('0 means no limit, and a lowered limit refuses at once', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.addBulk(Array.from({ length: 50 }, (_, n) => ({ data: { n } })));
    await q.setPolicy({ maxWaiting: 10 });
    await expect(q.add({})).rejects.toBeInstanceOf(QueueFullError);
    await q.setPolicy({ maxWaiting: 0 });
    await q.add({});
    expect((await q.counts()).ready).toBe(51);
    expect((await q.getPolicy()).maxWaiting).toBe(0);
  });
});
