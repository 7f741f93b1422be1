// The topic fan-out scenario of issue 10, shared by the single-server test (with a Redis
// restart) and the Cluster test (with a publisher killed mid-way): three subscriber queues,
// worker processes for two of them while messages are published, the third queue's workers
// started only afterwards. Every message whose publish resolved must become exactly one job
// in each queue; one whose publish never answered (its process was killed) at most one.
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
  try {
    for (const n of names) await topic.subscribe(n);
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
    const loop = async (): Promise<void> => {
      while (next < o.messages) {
        const seq = next++;
        try {
          await topic.publish({ seq });
          resolved.add(seq);
        } catch {
          unanswered.add(seq); // rejected: it may or may not have been written
        }
        if (++done === o.midway?.at) midway = o.midway.run();
      }
    };
    await Promise.all(Array.from({ length: 20 }, loop));
    await midway;
    expect(resolved.size, 'publishes that resolved').toBeGreaterThanOrEqual(o.messages - unanswered.size);

    // the third queue's workers come up only now: its jobs waited for them
    await startWorkers(2).ready;
    const firsts = (i: number) => new Set(started.filter((s) => s.queue === i && s.attempt === 1).map((s) => s.seq));
    await waitFor('every resolved message to run in every queue', async () => {
      for (let i = 0; i < 3; i++) {
        const seen = firsts(i);
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
    for (let i = 0; i < 3; i++) {
      const runs = new Map<number, number>();
      for (const s of started) if (s.queue === i && s.attempt === 1) runs.set(s.seq, (runs.get(s.seq) ?? 0) + 1);
      // each message's job was made once: one first run, never a second job for the same message
      const twice = [...runs].filter(([, n]) => n > 1).map(([seq]) => seq);
      expect(twice, `messages delivered twice to queue ${i}`).toEqual([]);
      const stray = [...runs.keys()].filter((seq) => !resolved.has(seq) && !unanswered.has(seq));
      expect(stray, `jobs in queue ${i} for messages never published`).toEqual([]);
      expect([...resolved].filter((seq) => !runs.has(seq)), `messages lost for queue ${i}`).toEqual([]);
      // one job per message, with the message's id in its job id
      const ids = new Set(started.filter((s) => s.queue === i && s.attempt === 1).map((s) => s.id));
      expect(ids.size).toBe(runs.size);
      expect([...ids].every((id) => id.startsWith(`${o.name}:`))).toBe(true);
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    await topic.close();
    await cleanupPrefix(o.admin, `kyoo:topic:{${o.name}}:`);
    for (const n of names) await cleanupPrefix(o.admin, `kyoo:{${n}}:`);
  }
}
