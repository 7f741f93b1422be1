// Topics: a published message becomes one job in every subscribed queue, each with its own
// workers; subscribe and unsubscribe at run time; bad input refused with nothing written; a
// resent publish is recognised; a full subscriber queue refuses (single Redis: atomically, no
// queue written) or keeps the message in the outbox until it has room (Redis Cluster).
import { InvalidOptionError, PayloadTooLargeError, Queue, QueueFullError, Topic, Worker } from 'kyoo';
import { ResultCode, Scripts, encodeData, encodeRecord } from '@kyoo/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { cleanupPrefix, onCluster } from '../support/redis.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('topics');
});
afterEach(async () => {
  await s.dispose();
});

/** A topic named after the scope, and subscriber queues `<scope>-<label>`, all deleted after the test. */
function setup(labels: string[]): { topic: Topic<{ n: number }>; queues: Queue[]; names: string[] } {
  const topic = s.track(new Topic<{ n: number }>(s.name, { connection: s.url, sweepMs: 50 }));
  const names = labels.map((l) => `${s.name}-${l}`);
  const queues = names.map((n) => s.track(new Queue(n, { connection: s.url })));
  s.defer(async () => {
    await cleanupPrefix(s.admin, `kyoo:topic:{${s.name}}:`);
    for (const n of names) await cleanupPrefix(s.admin, `kyoo:{${n}}:`);
  });
  return { topic, queues, names };
}

/** Runs a worker on each queue that records which messages it saw. */
function consume(names: string[]): Map<string, number[]>[] {
  return names.map((name) => {
    const seen = new Map<string, number[]>();
    s.trackWorker(new Worker<{ n: number }>(name, (job) => {
      seen.set(job.id, [...(seen.get(job.id) ?? []), job.data.n]);
    }, { connection: s.url, concurrency: 10 }));
    return seen;
  });
}

describe('topics', () => {
  it('each message becomes one job in every subscribed queue, run by that queue\'s workers', async () => {
    const { topic, names } = setup(['billing', 'email', 'analytics']);
    for (const n of names) expect(await topic.subscribe(n)).toBe(true);
    expect(await topic.subscribe(names[0]!)).toBe(false); // subscribed already
    expect(await topic.subscribers()).toEqual([...names].sort());
    const seen = consume(names);
    const published = [];
    for (let n = 0; n < 200; n++) published.push(await topic.publish({ n }));
    expect(published.every((p) => p.queues === 3)).toBe(true);
    const ids = published.map((p) => `${s.name}:${p.id}`);
    expect(new Set(ids).size).toBe(200);
    await waitFor(() => seen.every((m) => m.size === 200), 20_000, 'every queue to run every message');
    for (const m of seen) {
      expect([...m.keys()].sort()).toEqual([...ids].sort());
      expect([...m.values()].every((runs) => runs.length === 1)).toBe(true);
      expect(ids.map((id) => m.get(id)![0])).toEqual(Array.from({ length: 200 }, (_, n) => n));
    }
  });

  it('subscribe and unsubscribe at run time: a queue gets exactly the messages published while it is subscribed', async () => {
    const { topic, queues, names } = setup(['a', 'b']);
    const [a, b] = queues as [Queue, Queue];
    await topic.subscribe(names[0]!);
    const first = await topic.publish({ n: 1 });
    expect(first.queues).toBe(1);
    await topic.subscribe(names[1]!);
    const second = await topic.publish({ n: 2 });
    expect(await topic.unsubscribe(names[0]!)).toBe(true);
    expect(await topic.unsubscribe(names[0]!)).toBe(false);
    const third = await topic.publish({ n: 3 });
    expect(third.queues).toBe(1);
    const job = (id: string) => `${s.name}:${id}`;
    await waitFor(async () => (await a.counts()).ready === 2 && (await b.counts()).ready === 2, 10_000, 'the deliveries');
    expect((await a.getJob(job(first.id)))?.data).toEqual({ n: 1 });
    expect((await a.getJob(job(second.id)))?.data).toEqual({ n: 2 });
    expect(await a.getJob(job(third.id))).toBeNull();
    expect(await b.getJob(job(first.id))).toBeNull();
    expect((await b.getJob(job(third.id)))?.data).toEqual({ n: 3 });
    await topic.unsubscribe(names[1]!);
    expect(await topic.publish({ n: 4 })).toMatchObject({ queues: 0 });
    // a queue subscribed by another process while this topic knew of none still gets the next message
    const elsewhere = s.track(new Topic(s.name, { connection: s.url }));
    await elsewhere.subscribe(names[1]!);
    const fifth = await topic.publish({ n: 5 });
    expect(fifth.queues).toBe(1);
    await waitFor(async () => (await b.getJob(job(fifth.id))) !== null, 10_000, 'the fifth message in b');
  });

  it('subscribers changing while messages are published: a steady subscriber still gets every message once', async () => {
    const { topic, queues, names } = setup(['steady', 'flappy']);
    await topic.subscribe(names[0]!);
    const other = s.track(new Topic(s.name, { connection: s.url }));
    let next = 0;
    const counts: number[] = [];
    const publish = async (): Promise<void> => {
      while (next < 600) {
        next++;
        counts.push((await topic.publish({ n: next })).queues);
      }
    };
    const flap = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        await other.subscribe(names[1]!);
        await new Promise((r) => setTimeout(r, 2));
        await other.unsubscribe(names[1]!);
      }
    };
    await Promise.all([publish(), publish(), publish(), flap()]);
    await waitFor(async () => (await queues[0]!.counts()).ready === 600, 10_000, 'the steady queue to have all 600');
    expect(counts.every((n) => n === 1 || n === 2)).toBe(true);
    // a message published while the flapping queue was subscribed (queues: 2) is its, even if it left right after
    const itsShare = counts.filter((n) => n === 2).length;
    await waitFor(async () => (await queues[1]!.counts()).ready === itsShare, 10_000, `the flapping queue to have its ${itsShare}`);
    expect((await queues[0]!.counts()).ready).toBe(600);
  });

  it('job options apply in every queue; bad input is refused and writes nothing', async () => {
    const { topic, queues, names } = setup(['x', 'y']);
    for (const n of names) await topic.subscribe(n);
    const p = await topic.publish({ n: 7 }, { priority: 5, attempts: 2, delayMs: 60_000 });
    // on a Cluster the jobs arrive right after the publish, from the outbox
    await waitFor(async () => (await Promise.all(queues.map((q) => q.getJob(`${s.name}:${p.id}`)))).every((j) => j !== null), 10_000, 'the jobs');
    const infos = await Promise.all(queues.map((q) => q.getJob(`${s.name}:${p.id}`)));
    for (const info of infos) expect(info).toMatchObject({ state: 'delayed', priority: 5, attempts: 2, data: { n: 7 } });
    const refusals: [unknown, string][] = [
      [() => topic.publish({ n: 1 }, { jobId: 'mine' } as never), 'options.jobId'],
      [() => topic.publish({ n: 1 }, { dedup: { key: 'k' } } as never), 'options.dedup'],
      [() => topic.publish({ n: 1 }, { attempts: 0 }), 'attempts'],
      [() => topic.publish({ n: new Map() } as never), 'data'],
      [() => topic.subscribe('bad{name}'), 'queueName'],
    ];
    for (const [call, option] of refusals) {
      const err = await (call as () => Promise<unknown>)().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).option).toBe(option);
    }
    const small = new Topic(s.name, { connection: s.url, maxPayloadBytes: 16 });
    await expect(small.publish({ text: 'x'.repeat(100) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    await small.close();
    expect(() => new Topic('no spaces allowed', { connection: s.url })).toThrow(/topic name must be/);
    for (const q of queues) expect(await q.counts()).toMatchObject({ ready: 0, delayed: 1 });
    if (onCluster()) expect(await s.admin.xlen(topic.keys.topic_outbox)).toBeLessThanOrEqual(1); // only the one message, if not trimmed yet
  });

  it('a publish resent after a reconnect (same publisher, same message id) is applied once', async () => {
    const { topic, queues, names } = setup(['r1', 'r2']);
    for (const n of names) await topic.subscribe(n);
    const scripts = new Scripts(topic.keys);
    const record = Buffer.from('not read by these scripts');
    const args = { publisher: 'p1', message: 41, jobId: `${s.name}:41`, delay: 60_000, opts: '', record };
    const call = onCluster()
      ? () => scripts.call(s.admin, 'topicAppend', args)
      : () => scripts.call(s.admin, 'topicPublish', { ...args, rev: 2 }, names.map((n) => queues[names.indexOf(n)]!.keys));
    expect((await call())[0]).toBe(ResultCode.OK);
    expect((await call())[0]).toBe(ResultCode.DUPLICATE);
    if (onCluster()) expect(await s.admin.xlen(topic.keys.topic_outbox)).toBe(1);
    else for (const q of queues) expect((await q.counts()).delayed).toBe(1);
  });

  it('a subscriber queue at its maxWaiting: refused everywhere (single Redis) or held in the outbox until it has room (Cluster)', async () => {
    const { topic, queues, names } = setup(['roomy', 'full']);
    for (const n of names) await topic.subscribe(n);
    const [roomy, full] = queues as [Queue, Queue];
    await full.setPolicy({ maxWaiting: 1 });
    await topic.publish({ n: 1 });
    if (!onCluster()) {
      const err = await topic.publish({ n: 2 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QueueFullError);
      expect((err as QueueFullError).queue).toBe(names[1]);
      expect((await roomy.counts()).ready).toBe(1); // nothing written to the queue with room either
      return;
    }
    const second = await topic.publish({ n: 2 });
    await waitFor(async () => (await roomy.counts()).ready === 2, 10_000, 'the roomy queue to get both');
    expect((await full.counts()).ready).toBe(1);
    expect(await s.admin.xlen(topic.keys.topic_outbox)).toBeGreaterThanOrEqual(1);
    await full.setPolicy({ maxWaiting: 0 });
    await waitFor(async () => (await full.getJob(`${s.name}:${second.id}`)) !== null, 10_000, 'the held message to be delivered');
    await waitFor(async () => Number(await s.admin.xlen(topic.keys.topic_outbox)) === 0, 10_000, 'the outbox to be trimmed');
    expect((await full.counts()).ready).toBe(2);
  });

  it('Cluster: a message a publisher left in the outbox (it stopped before delivering) is delivered by any open topic', async () => {
    if (!onCluster()) {
      // a single Redis has no outbox: the publish itself wrote every queue (the first test)
      return;
    }
    const { topic, queues, names } = setup(['late']);
    await topic.subscribe(names[0]!);
    // what a publisher that died right after its append leaves behind: the message, undelivered
    const record = encodeRecord({
      payload: encodeData('data', { n: 99 }), attempts: 1, backoffType: 'fixed', backoffMs: 0,
      backoffMaxMs: 0, jitter: 0, createdAt: Date.now(), timeoutMs: 0, priority: 0, dedupKey: '', dedupMode: 0,
    });
    const scripts = new Scripts(topic.keys);
    expect(await scripts.call(s.admin, 'topicAppend', { publisher: 'gone', message: 1, jobId: `${s.name}:orphan`, delay: 0, opts: '', record }))
      .toEqual([ResultCode.OK, 1]);
    await waitFor(async () => (await queues[0]!.getJob(`${s.name}:orphan`)) !== null, 10_000, 'the sweep to deliver it');
    expect((await queues[0]!.getJob(`${s.name}:orphan`))?.data).toEqual({ n: 99 });
    await waitFor(async () => Number(await s.admin.xlen(topic.keys.topic_outbox)) === 0, 10_000, 'the outbox to be trimmed');
  });

  it('an outbox entry offered to a queue again (another deliverer, a crash before trimming) is skipped, even after its job is gone', async () => {
    const { queues } = setup(['once']);
    const q = queues[0]!;
    const scripts = new Scripts(q.keys);
    const record = encodeRecord({
      payload: encodeData('data', { n: 1 }), attempts: 1, backoffType: 'fixed', backoffMs: 0,
      backoffMaxMs: 0, jitter: 0, createdAt: Date.now(), timeoutMs: 0, priority: 0, dedupKey: '', dedupMode: 0,
    });
    const entries = ['1700000000000-0', '1700000000000-1', '1700000000001-0'].map((entry, i) => ({ entry, jobId: `${s.name}:${i}`, delay: 0, opts: '', record }));
    expect(await scripts.call(s.admin, 'topicDeliver', { topic: s.name, entries: entries.slice(0, 2) })).toEqual([ResultCode.OK, 2]);
    // the jobs run and are deleted (completed jobs are not kept)
    const ran: string[] = [];
    const w = s.trackWorker(new Worker(q.name, (job) => void ran.push(job.id), { connection: s.url }));
    await waitFor(async () => ran.length === 2 && (await q.counts()).ready === 0 && (await q.getJob(`${s.name}:1`)) === null, 10_000, 'both to run');
    await w.close();
    // offered again with one new entry: only the new one is added
    expect(await scripts.call(s.admin, 'topicDeliver', { topic: s.name, entries })).toEqual([ResultCode.OK, 3]);
    expect((await q.counts()).ready).toBe(1);
    expect((await q.getJob(`${s.name}:2`))?.data).toEqual({ n: 1 });
    expect(await q.getJob(`${s.name}:0`)).toBeNull();
  });

  it('a publisher idle for a day is forgotten (its newest message id kept no longer than a resend could need)', async () => {
    const { topic } = setup([]);
    const scripts = new Scripts(topic.keys);
    const dayAgo = (await s.redisNow()) - 2 * 24 * 3600 * 1000;
    await s.admin.hset(topic.keys.topic_publishers, 'gone', '5', 'recent', '7');
    await s.admin.zadd(topic.keys.topic_seen, dayAgo, 'gone', await s.redisNow(), 'recent');
    const record = Buffer.from('not read');
    const append = (publisher: string, message: number) => scripts.call(s.admin, 'topicAppend', { publisher, message, jobId: `x:${message}`, delay: 0, opts: '', record });
    await append('p', 63); // not a pruning call
    expect(await s.admin.hexists(topic.keys.topic_publishers, 'gone')).toBe(1);
    await append('p', 64);
    expect(await s.admin.hkeys(topic.keys.topic_publishers)).toEqual(expect.arrayContaining(['recent', 'p']));
    expect(await s.admin.hexists(topic.keys.topic_publishers, 'gone')).toBe(0);
    expect(await s.admin.zscore(topic.keys.topic_seen, 'gone')).toBeNull();
    // and a resend of the newest message is still recognised
    expect((await append('p', 64))[0]).toBe(ResultCode.DUPLICATE);
  });
});
