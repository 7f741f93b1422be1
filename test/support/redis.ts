/// <reference path="./provided.d.ts" />
// Helpers shared by the test suites.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';

export { ensureRedisInstalled, freePort, ping, redisCommand, startRedis } from '../../scripts/lib/redis.mjs';
export type { RawCommandOptions, RedisServer, RespReply, StartRedisOptions } from '../../scripts/lib/redis.mjs';
export { keySlot, startCluster } from '../../scripts/lib/cluster.mjs';
export type { ClusterNodeInfo, RedisCluster, StartClusterOptions } from '../../scripts/lib/cluster.mjs';

/**
 * URL of the Redis target of this test project, provided by its global setup:
 * `redis://...` for one server (test/global-setup.ts), `redis-cluster://host:port,...`
 * for the local cluster (test/cluster/global-setup.ts). kyoo's `connection` option
 * takes either string as it is.
 */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** Whether `url` (default: this project's target) is a Redis Cluster. */
export function onCluster(url = redisUrl()): boolean {
  return /^rediss?-cluster:\/\//.test(url);
}

/**
 * An admin connection to `url` (default: this project's target), made without kyoo's own URL
 * parsing: an ioredis Redis for a server, an ioredis Cluster for `redis-cluster://h:p,h:p`.
 */
export function adminConnection(url = redisUrl()): Redis | Cluster {
  if (!onCluster(url)) return new Redis(url);
  const nodes = url.replace(/^rediss?-cluster:\/\//, '').split(',').map((hp) => {
    const [host, port] = hp.split(':');
    return { host: host!, port: Number(port) };
  });
  return new Cluster(nodes);
}

/**
 * The connections to run a keyspace-wide command (SCAN) on: the server itself, or every
 * master of a cluster (after waiting for the cluster to know its slots, so that none is missed).
 */
export async function masters(redis: Redis | Cluster): Promise<Redis[]> {
  if (!(redis instanceof Cluster)) return [redis];
  if (redis.status !== 'ready') await once(redis, 'ready', { signal: AbortSignal.timeout(10_000) });
  const found = redis.nodes('master');
  if (found.length === 0) throw new Error('the cluster connection is ready but knows no master');
  return found;
}

/** Every key matching `pattern` (SCAN on every master, never KEYS), sorted. */
export async function scanKeys(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of await masters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return found.sort();
}

/**
 * A kyoo `connection` option for `url` (default: this project's target) whose every
 * connection, the duplicated blocking one included, carries the client name `name`
 * (CLIENT SETNAME), so that CLIENT LIST tells what those connections are doing (see
 * {@link clientsNamed}). A `redis://` URL gets it in the query (ioredis reads options from
 * there); a cluster URL becomes startup nodes with the name in each node's options.
 */
export function namedConnection(name: string, url = redisUrl()): string | { cluster: { host: string; port: number }[]; options: { redisOptions: { connectionName: string } } } {
  if (!/^[A-Za-z0-9:._-]+$/.test(name)) throw new Error(`not a usable client name: ${JSON.stringify(name)}`);
  if (!onCluster(url)) {
    const u = new URL(url);
    u.searchParams.set('connectionName', name);
    return u.toString();
  }
  if (/@/.test(url) || url.startsWith('rediss')) throw new Error('namedConnection: a cluster URL with credentials or TLS is not supported');
  const cluster = url.replace(/^rediss?-cluster:\/\//, '').split(',').map((hp) => {
    const [host, port] = hp.split(':');
    return { host: host!, port: Number(port) };
  });
  return { cluster, options: { redisOptions: { connectionName: name } } };
}

/** One line of CLIENT LIST, as fields (`flags`, `cmd`, `name`, ...). */
export type ClientInfo = Record<string, string>;

/** Every connection named `name` (CLIENT LIST on the server, or on every master of a cluster). */
export async function clientsNamed(redis: Redis | Cluster, name: string): Promise<ClientInfo[]> {
  const out: ClientInfo[] = [];
  for (const node of await masters(redis)) {
    const list = String(await node.client('LIST'));
    for (const line of list.split('\n')) {
      if (line.trim() === '') continue;
      const info = Object.fromEntries(line.trim().split(' ').map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i), kv.slice(i + 1)];
      }));
      if (info.name === name) out.push(info);
    }
  }
  return out;
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
 * On a Cluster, SCAN runs on every master and keys are unlinked one by one (keys of different
 * slots cannot share one UNLINK, even on one node). Returns the number of keys removed.
 */
export async function cleanupPrefix(redis: ScanUnlinkClient | Cluster, pattern: string): Promise<number> {
  const match = /[*?[]/.test(pattern) ? pattern : `${pattern}*`;
  if (redis instanceof Cluster) {
    const keys = await scanKeys(redis, match);
    const removed = await Promise.all(keys.map((key) => redis.unlink(key)));
    return removed.reduce((a, b) => a + b, 0);
  }
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
    if (keys.length > 0) removed += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return removed;
}
