import type { ChainableCommander } from 'ioredis';
import type { QueueKeys, RedisConnection } from '@kyoo/core';
import { execValues } from './exec.js';
import type { JobState } from './job-info.js';

/**
 * One structure holding jobs of a state, as {@link Jobs} lays them end to
 * end: its size now, how to read positions [from, to] of it (one command,
 * O(log N + M) for sorted sets, O(M + offset / 128) for the ready list's
 * quicklist), and how to turn the reply into ids.
 */
export interface Segment {
  size: number;
  read(multi: ChainableCommander, from: number, to: number): void;
  ids(reply: unknown): string[];
}

const asIds = (reply: unknown): string[] => reply as string[];

/** The segments of a state, with their sizes (one MULTI of O(1) counts). */
export async function waitingSegments(redis: RedisConnection, keys: QueueKeys, state: JobState): Promise<Segment[]> {
  const zset = (key: string, newest: boolean, size: number): Segment => ({
    size,
    read: (m, from, to) => (newest ? m.zrevrange(key, from, to) : m.zrange(key, from, to)),
    ids: asIds,
  });
  switch (state) {
    case 'ready': {
      // jobs with a priority, then the ready list (plain jobs, and each fast-path group's next),
      // then grouped jobs waiting in their groups ("<group>\0<seq>\0<id>", in group order)
      const [prio, ready, grouped] = (await execValues(redis.multi().zcard(keys.prio).llen(keys.ready).zcard(keys.group_queue))) as number[];
      return [
        zset(keys.prio, false, prio!),
        { size: ready!, read: (m, from, to) => m.lrange(keys.ready, from, to), ids: asIds },
        { size: grouped!, read: (m, from, to) => m.zrange(keys.group_queue, from, to), ids: (r) => (r as string[]).map((member) => member.slice(member.lastIndexOf('\0') + 1)) },
      ];
    }
    case 'leased':
      // the sentinel at +inf is no job: it sorts last, past every index read here
      return [zset(keys.leased, false, await redis.zcount(keys.leased, '-inf', '(inf'))];
    case 'delayed':
      return [zset(keys.delayed, false, await redis.zcard(keys.delayed))];
    case 'completed':
      return [zset(keys.done, true, await redis.zcard(keys.done))];
    case 'dead':
      return [zset(keys.dead, true, await redis.zcard(keys.dead))];
    case 'cancelled':
      return [zset(keys.cancelled, true, await redis.zcard(keys.cancelled))];
  }
}
