import { MAX_DURATION_MS, POLICY_META_FIELDS, checkInt, checkKnownKeys, checkObject, decodeRecord, readPolicy, type QueueKeys, type RedisConnection } from '@kyoo/core';
import { redisNow } from './dead-filter.js';
import { execValues } from './exec.js';
import type { QueueCounts } from './queue.js';

/** A queue at a glance, as `queue.stats()` reads it. */
export interface QueueStats {
  counts: QueueCounts;
  /**
   * The waiting job first in line (the head of the ready list, or the first
   * job by priority, whichever was added earlier), with when it was added
   * (producer clock) and how long ago that is (by Redis's clock); `null` when
   * no job waits.
   */
  oldestWaiting: { id: string; createdAt: number; ageMs: number } | null;
  /** What the events stream says of the last `windowMs`; `null` when the policy turned events off. */
  recent: RecentActivity | null;
  /** Redis's clock when the stats were read (ms since epoch). */
  at: number;
}

/** Job events of a recent window, counted from the events stream. */
export interface RecentActivity {
  /** The window asked for (ms). */
  windowMs: number;
  /** The part of it the stream still holds: less than `windowMs` when the stream was trimmed inside the window. */
  coveredMs: number;
  added: number;
  completed: number;
  failed: number;
  retried: number;
  dead: number;
  /** Completed jobs per second over the covered part of the window. */
  completedPerSec: number;
}

/** Options of `queue.stats()`. */
export interface StatsOptions {
  /** How far back `recent` looks (ms). @defaultValue `60000` */
  windowMs?: number;
}

const COUNTED = ['added', 'completed', 'failed', 'retried', 'dead'] as const;
const PAGE = 1000;

export function checkStatsOptions(options: unknown): { windowMs: number } {
  const o = checkObject<StatsOptions>('options', options);
  checkKnownKeys('options', o, ['windowMs']);
  return { windowMs: checkInt('options.windowMs', o.windowMs ?? 60_000, 1, MAX_DURATION_MS) };
}

/** Reads the parts of {@link QueueStats} that are not counts. */
export async function readStats(redis: RedisConnection, keys: QueueKeys, counts: QueueCounts, windowMs: number): Promise<QueueStats> {
  const at = await redisNow(redis);
  return { counts, oldestWaiting: await oldestWaiting(redis, keys, at), recent: await recent(redis, keys, at, windowMs), at };
}

/** The waiting job first in line (see {@link QueueStats.oldestWaiting}); `now` is Redis's clock. */
export async function oldestWaiting(redis: RedisConnection, keys: QueueKeys, now: number): Promise<QueueStats['oldestWaiting']> {
  const [head, first] = (await execValues(redis.multi().lindex(keys.ready, 0).zrange(keys.prio, 0, 0))) as [string | null, string[]];
  const ids = [head, first[0]].filter((id): id is string => typeof id === 'string');
  if (ids.length === 0) return null;
  const records = await redis.hmgetBuffer(keys.jobs, ...ids);
  let best: QueueStats['oldestWaiting'] = null;
  ids.forEach((id, i) => {
    const raw = records[i];
    if (!raw) return;
    let createdAt: number;
    try {
      createdAt = decodeRecord(raw).createdAt;
    } catch {
      return; // a record this kyoo cannot read: it says nothing of the wait
    }
    if (best === null || createdAt < best.createdAt) best = { id, createdAt, ageMs: Math.max(0, now - createdAt) };
  });
  return best;
}

async function recent(redis: RedisConnection, keys: QueueKeys, now: number, windowMs: number): Promise<RecentActivity | null> {
  const policy = readPolicy(await redis.hmget(keys.meta, ...POLICY_META_FIELDS));
  if (policy.eventsMaxLen === 0) return null;
  const counts: Record<(typeof COUNTED)[number], number> = { added: 0, completed: 0, failed: 0, retried: 0, dead: 0 };
  const since = now - windowMs;
  let from = String(since);
  for (;;) {
    const entries = (await redis.xrange(keys.events, from, '+', 'COUNT', PAGE)) as [string, string[]][];
    for (const [, fields] of entries) {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      const type = f['e'] ?? '';
      // one entry holds one kind of event for every job of one script call (lua/includes/events.lua)
      if ((COUNTED as readonly string[]).includes(type)) counts[type as (typeof COUNTED)[number]] += (f['j'] ?? '').split('\n').length;
    }
    if (entries.length < PAGE) break;
    from = `(${entries[entries.length - 1]![0]}`;
  }
  // MAXLEN ~ keeps at least eventsMaxLen entries once it trims: a stream that long may have lost
  // the start of the window; its oldest entry then bounds what the counts cover
  let coveredMs = windowMs;
  if ((await redis.xlen(keys.events)) >= policy.eventsMaxLen) {
    const [oldest] = (await redis.xrange(keys.events, '-', '+', 'COUNT', 1)) as [string, string[]][];
    const oldestAt = oldest ? Number(oldest[0].split('-')[0]) : now;
    if (oldestAt > since) coveredMs = Math.max(1, now - oldestAt);
  }
  return { windowMs, coveredMs, ...counts, completedPerSec: counts.completed / (coveredMs / 1000) };
}
