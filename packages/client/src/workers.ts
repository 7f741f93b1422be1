import type { QueueKeys, RedisConnection } from '@kyoo/core';
import { redisNow } from './dead-filter.js';

/** A worker as the queue last heard of it (see {@link Queue.workers}). */
export interface WorkerInfo {
  /** The worker's id (`worker.id`), which its lease tokens carry too. */
  id: string;
  /** Slots running a job, and slots in all (its concurrency), as it said with its last call. */
  busy: number;
  slots: number;
  /** When it last called (a lease, an ack, an idle wake-up; ms, Redis clock); `null` for a worker of an older kyoo. */
  lastSeenAt: number | null;
  /** Until when it counts as alive: an idle worker calls at least every `maxIdleMs`, so one past this is gone. */
  expiresAt: number;
  alive: boolean;
}

const MAX = 10_000;

/** The workers of a queue (at most 10,000, most recently seen first), from the `workers` hash. */
export async function readWorkers(redis: RedisConnection, keys: QueueKeys): Promise<WorkerInfo[]> {
  const now = await redisNow(redis);
  const out: WorkerInfo[] = [];
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(keys.workers, cursor, 'COUNT', 1000);
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const m = /^(\d+),(\d+),(\d+)(?:,(\d+))?$/.exec(flat[i + 1]!);
      if (!m) continue;
      const expiresAt = Number(m[3]);
      out.push({ id: flat[i]!, busy: Math.min(Number(m[1]), Number(m[2])), slots: Number(m[2]), lastSeenAt: m[4] === undefined ? null : Number(m[4]), expiresAt, alive: expiresAt >= now });
    }
    cursor = next;
  } while (cursor !== '0' && out.length < MAX);
  return out.sort((a, b) => (b.lastSeenAt ?? 0) - (a.lastSeenAt ?? 0) || a.id.localeCompare(b.id));
}
