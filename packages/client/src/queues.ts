import { once } from 'node:events';
import { DEFAULT_PREFIX, checkKnownKeys, checkObject, connect, isCluster, log, release, validatePrefix, type ConnectionOption, type RedisConnection } from '@kyoo/core';
import type { Redis } from 'ioredis';

/** Options of {@link findQueues}. */
export interface FindQueuesOptions {
  /** As a Queue's `connection`. @defaultValue `redis://127.0.0.1:6379` */
  connection?: ConnectionOption;
  /** Key prefix. @defaultValue `'kyoo'` */
  prefix?: string;
}

/**
 * The keys that mark a queue: its `jobs` hash exists from its first job on
 * (a sentinel field keeps it when the queue is empty), `meta` once it was
 * paused or given a policy, `schedules` once it has a schedule.
 */
const MARKS = new Set(['jobs', 'meta', 'schedules']);

/**
 * Names of the queues under a prefix, sorted: found with SCAN (never KEYS),
 * on every master of a Redis Cluster. A queue is there once it had a job, a
 * policy, a pause or a schedule. It walks the whole keyspace (as SCAN does),
 * so it is for operators and tools, not for a request path.
 * @example
 * const names = await findQueues({ connection: process.env.REDIS_URL }) // ['emails', 'images']
 */
export async function findQueues(options: FindQueuesOptions = {}): Promise<string[]> {
  const o = checkObject<FindQueuesOptions>('options', options);
  checkKnownKeys('options', o, ['connection', 'prefix']);
  const prefix = validatePrefix(o.prefix ?? DEFAULT_PREFIX);
  const conn = connect(o.connection);
  if (conn.owned) conn.redis.on('error', (err: Error) => log.client('findQueues: redis error: %s', err.message));
  try {
    const names = new Set<string>();
    const re = new RegExp(`^${prefix.replace(/[.#-]/g, '\\$&')}:\\{([^{}]+)\\}:([a-z_]+)$`);
    for (const node of await masters(conn.redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${globEscape(prefix)}:{*}:*`, 'COUNT', 1000);
        for (const key of keys) {
          const m = re.exec(key);
          if (m && MARKS.has(m[2]!)) names.add(m[1]!);
        }
        cursor = next;
      } while (cursor !== '0');
    }
    return [...names].sort();
  } finally {
    await release(conn);
  }
}

/** The server, or every master of a Cluster (once it knows its slots). */
async function masters(redis: RedisConnection): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  if (redis.status !== 'ready') await once(redis, 'ready', { signal: AbortSignal.timeout(30_000) });
  return redis.nodes('master');
}

/** A prefix in a SCAN pattern (prefix characters are letters, digits and `_ . # : -`: none is special, but be safe). */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
