// The topic fan-out scenario of issue 10, shared by the single-server test (with a Redis
// restart) and the Cluster test (with a publisher killed mid-way): three subscriber queues,
// worker processes for two of them while messages are published, the third queue's workers
// started only afterwards. Every message whose publish resolved must become exactly one job
// in each queue (counted by the queues' `added` events: a message delivered again after its
// job completed and was deleted would be a second one) and run there; one whose publish never
// answered (its process was killed, or it was rejected) at most one.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue, Topic } from 'kyoo';
import { expect } from 'vitest';
import { cleanupPrefix } from './redis.js';
import { startWorkerProcess, waitFor, type WorkerProcess } from './worker-process.js';
import type { Redis, Cluster } from 'ioredis';

const PUBLISHER = fileURLToPath(new URL('../fixtures/topic-publisher.mjs', import.meta.url));

export interface FanOutOptions {
  url: string;
  admin: Redis | Cluster;
  name: string;
  messages: number;
  /** Called once `at` messages of this process have been published (a Redis restart, say). */
  midway?: { at: number; run: () => Promise<void> };
  /** Publish the first `count` messages from a child process that is SIGKILLed after `killAfter` of them resolved. */
  killedPublisher?: { count: number; killAfter: number };
}

interface Started { queue: number; id: string; seq: number; attempt: number }

export async function fanOutExactlyOnce(o: FanOutOptions): Promise<void> {
  const names = [0, 1, 2].map((i) => `${o.name}-sub${i}`);
  const topic = new Topic<{ seq: number }>(o.name, { connection: o.url, sweepMs: 100 });
  const workers: WorkerProcess[] = [];
  const started: Started[] = [];
  const startWorkers = (i: number): WorkerProcess => {
    const w = startWorkerProcess({
      redisUrl: o.url, queue: names[i]!, concurrency: 20,
      onEvent: (e) => {
        if (e.t === 'start') started.push({ queue: i, id: e.id!, seq: e.seq!, attempt: e.attempt! });
      },
    });
    workers.push(w);
    return w;
  };
  const resolved = new Set<number>();
  const unanswered = new Set<number>();
  const rejected: string[] = []; // publishes of this process that rejected (Redis down longer than the client retries)
  try {
    for (const n of names) {
      const q = new Queue(n, { connection: o.url });
      await q.setPolicy({ eventsMaxLen: 1_000_000 }); // every `added` event kept, to count jobs made
      await q.close();
      await topic.subscribe(n);
    }
    await Promise.all([startWorkers(0), startWorkers(1)].map((w) => w.ready));

    let from = 0;
    if (o.killedPublisher) {
      const { count, killAfter } = o.killedPublisher;
      const child = fork(PUBLISHER, [], { env: { ...process.env, REDIS_URL: o.url, KYOO_TOPIC: o.name, KYOO_FROM: '0', KYOO_TO: String(count) } });
      const exited = new Promise((r) => child.once('exit', r));
      child.on('message', (batch: { t: string; seq?: number }[]) => {
        for (const m of batch) if (m.t === 'published') resolved.add(m.seq!);
        if (resolved.size >= killAfter) child.kill('SIGKILL');
      });
      await exited;
      for (let seq = 0; seq < count; seq++) if (!resolved.has(seq)) unanswered.add(seq);
      from = count;
    }
    // the rest from this process, 20 in flight, through whatever `midway` does to Redis
    let next = from;
    let done = 0;
    let midway: Promise<void> | undefined;
    let midwayDoneAt = Infinity;
    let lastResolvedAt = 0;
    const loop = async (): Promise<void> => {
      while (next < o.messages) {
        const seq = next++;
        try {
          await topic.publish({ seq });
          resolved.add(seq);
          lastResolvedAt = Date.now();
        } catch (err) {
          unanswered.add(seq); // it may or may not have been written
          rejected.push(`${seq}: ${(err as Error).message}`);
        }
        if (++done === o.midway?.at) midway = o.midway.run().then(() => void (midwayDoneAt = Date.now()));
      }
    };
    await Promise.all(Array.from({ length: 20 }, loop));
    await midway;
    // what `midway` did to Redis happened while messages were being published: some resolved after it
    if (o.midway) expect(lastResolvedAt).toBeGreaterThan(midwayDoneAt);
    // the client rides out the restart: no publish of this process is refused
    expect(rejected, 'publishes that rejected').toEqual([]);

    // the third queue's workers come up only now: its jobs waited for them
    await startWorkers(2).ready;
    // a run's attempt may be 2: a lease whose reply was lost in the restart expires and is run again
    const ran = (i: number) => new Set(started.filter((s) => s.queue === i).map((s) => s.seq));
    await waitFor('every resolved message to run in every queue', async () => {
      for (let i = 0; i < 3; i++) {
        const seen = ran(i);
        for (const seq of resolved) if (!seen.has(seq)) return false;
      }
      return true;
    }, 120_000, 100);
    // and nothing is left to deliver or run
    const queues = names.map((n) => new Queue(n, { connection: o.url }));
    try {
      await waitFor('the queues to be empty and the outbox trimmed', async () => {
        for (const q of queues) {
          const c = await q.counts();
          if (c.ready + c.delayed + c.leased > 0) return false;
        }
        return Number(await o.admin.xlen(topic.keys.topic_outbox)) === 0;
      }, 60_000, 100);
    } finally {
      await Promise.all(queues.map((q) => q.close()));
    }
    const seqOf = new Map(started.map((s) => [`${s.queue}/${s.id}`, s.seq]));
    for (let i = 0; i < 3; i++) {
      // jobs made in queue i, from its events stream: job id -> times added
      const added = new Map<string, number>();
      const stream = (await o.admin.xrange(`kyoo:{${names[i]}}:events`, '-', '+')) as [string, string[]][];
      for (const [, f] of stream) {
        if (f[f.indexOf('e') + 1] !== 'added') continue;
        for (const id of f[f.indexOf('j') + 1]!.split('\n')) added.set(id, (added.get(id) ?? 0) + 1);
      }
      expect([...added].filter(([, n]) => n > 1).map(([id]) => id), `messages delivered twice to queue ${i}`).toEqual([]);
      expect([...added.keys()].every((id) => id.startsWith(`${o.name}:`))).toBe(true);
      const seqs = new Map([...added.keys()].map((id) => [seqOf.get(`${i}/${id}`), id]));
      expect([...resolved].filter((seq) => !seqs.has(seq)), `messages lost for queue ${i}`).toEqual([]);
      expect([...seqs.keys()].filter((seq) => seq === undefined || (!resolved.has(seq) && !unanswered.has(seq))), `jobs in queue ${i} not run or never published`).toEqual([]);
      expect(added.size).toBe(seqs.size); // one job per message
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    await topic.close();
    await cleanupPrefix(o.admin, `kyoo:topic:{${o.name}}:`);
    for (const n of names) await cleanupPrefix(o.admin, `kyoo:{${n}}:`);
  }
}
