/// <reference path="./provided.d.ts" />
// Helpers shared by the test suites.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

export { ensureRedisInstalled, freePort, ping, redisCommand, startRedis } from '../../scripts/lib/redis.mjs';
export type { RawCommandOptions, RedisServer, RespReply, StartRedisOptions } from '../../scripts/lib/redis.mjs';

/** URL of the Redis server provided by test/global-setup.ts. */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** `label` plus a random suffix, using only [a-z0-9-], e.g. `retry-3f9a1c0b`. */
export function uniqueQueueName(label: string): string {
  const base = label.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return `${base || 'queue'}-${randomBytes(4).toString('hex')}`;
}

/** The subset of a Redis client (e.g. ioredis) that cleanupPrefix needs. */
export interface ScanUnlinkClient {
  scan(...args: any[]): Promise<[cursor: string, keys: string[]]>;
  unlink(...keys: string[]): Promise<number>;
}

/**
 * Delete every key matching `pattern` with SCAN + UNLINK (never KEYS or FLUSHALL), so suites
 * sharing one server do not disturb each other. A pattern without glob characters is a prefix.
 * Returns the number of keys removed.
 */
export async function cleanupPrefix(redis: ScanUnlinkClient, pattern: string): Promise<number> {
  const match = /[*?[]/.test(pattern) ? pattern : `${pattern}*`;
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
    if (keys.length > 0) removed += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return removed;
}
