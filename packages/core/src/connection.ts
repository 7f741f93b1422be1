import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConnectionClosedError, InvalidOptionError } from './errors.js';

/** What kyoo sends its commands on: one Redis server, or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

/**
 * A Redis Cluster to connect to: a few of its nodes (any role; ioredis
 * discovers the others from them) and ioredis Cluster options. Settings of
 * each node's connection (password, TLS, timeouts) go in `options.redisOptions`.
 * @example
 * const connection = {
 *   cluster: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7000 }],
 *   options: { redisOptions: { password: process.env.REDIS_PASSWORD } },
 * }
 */
export interface ClusterConnectionOptions {
  /** Startup nodes: `{ host, port }` (or `'host:port'`, or a port on 127.0.0.1). */
  cluster: readonly ClusterNode[];
  /** ioredis Cluster options. `keyPrefix` is refused: use kyoo's `prefix`. */
  options?: ClusterOptions;
}

/**
 * How to reach Redis:
 * - a URL: `redis://user:pass@host:6379/0`, `rediss://` for TLS; for a Redis
 *   Cluster `redis-cluster://user:pass@host1:7000,host2:7000` (its startup
 *   nodes; `rediss-cluster://` for TLS);
 * - ioredis options, or {@link ClusterConnectionOptions} for a cluster;
 * - an ioredis `Redis` or `Cluster` instance you own.
 *
 * kyoo closes only the connections it opened itself. ioredis's `keyPrefix`
 * is refused (kyoo's keys, as `queue.keys` and SCAN patterns show them, would
 * not be the keys in Redis): use kyoo's own `prefix` option instead.
 */
export type ConnectionOption = string | RedisOptions | ClusterConnectionOptions | Redis | Cluster;

/** A connection and whether kyoo owns it (and so must close it). */
export interface OwnedConnection {
  redis: RedisConnection;
  owned: boolean;
}

const CLUSTER_URL_RE = /^(rediss?)-cluster:\/\//;

/** Whether `redis` is an ioredis Cluster (also one from another copy of ioredis). */
export function isCluster(redis: unknown): redis is Cluster {
  return redis instanceof Cluster || (isClient(redis) && (redis as { isCluster?: unknown }).isCluster === true);
}

function isClient(value: unknown): value is Redis | Cluster {
  return value instanceof Redis || value instanceof Cluster
    || (typeof value === 'object' && value !== null && typeof (value as { sendCommand?: unknown }).sendCommand === 'function'
      && typeof (value as { duplicate?: unknown }).duplicate === 'function');
}

/**
 * Refuses ioredis's `keyPrefix`. ioredis adds it to every key of a command,
 * so scripts would still work, but the keys kyoo shows (`queue.keys`) and the
 * SCAN patterns of tools and cleanup would miss what is stored; and a prefix
 * with a brace would become the hash tag of every key, putting all queues in
 * one Cluster slot. kyoo's `prefix` option does the same job without either.
 */
function refuseKeyPrefix(option: string, keyPrefix: unknown): void {
  if (keyPrefix === undefined || keyPrefix === null || String(keyPrefix) === '') return;
  const shown = JSON.stringify(String(keyPrefix).slice(0, 40));
  if (/[{}]/.test(String(keyPrefix))) {
    throw new InvalidOptionError(
      option,
      `ioredis keyPrefix ${shown} contains a brace: it would become the Redis Cluster hash tag of every key and put every queue in one slot. Remove keyPrefix and use kyoo's prefix option`,
    );
  }
  throw new InvalidOptionError(
    option,
    `ioredis keyPrefix ${shown} is not supported: the keys kyoo shows (queue.keys) and SCAN patterns would not match the keys in Redis. Remove keyPrefix and use kyoo's prefix option`,
  );
}

function parseRedisUrl(url: string): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^rediss?:$/.test(parsed.protocol)) {
    throw new InvalidOptionError(
      'connection',
      `expected a valid redis://, rediss:// or redis-cluster:// URL, got ${JSON.stringify(url.slice(0, 60))}`,
    );
  }
  return parsed;
}

/** `redis-cluster://[user:pass@]host:port[,host:port...]` → startup nodes and node options. */
function parseClusterUrl(url: string): ClusterConnectionOptions {
  const bad = (why: string): InvalidOptionError =>
    new InvalidOptionError('connection', `${why}; expected redis-cluster://[user:password@]host:port[,host:port...], got ${JSON.stringify(url.slice(0, 80))}`);
  const m = /^(rediss?)-cluster:\/\/(?:([^@/?#]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!m) throw bad('not a cluster URL (no path, query or fragment allowed)');
  const [, scheme, auth, hosts] = m;
  const cluster = hosts!.split(',').map((hostPort) => {
    let node: URL;
    try {
      node = new URL(`redis://${hostPort}`);
    } catch {
      throw bad(`startup node ${JSON.stringify(hostPort)} is not host:port`);
    }
    if (!node.hostname || node.username || node.pathname !== '') throw bad(`startup node ${JSON.stringify(hostPort)} is not host:port`);
    return { host: node.hostname.replace(/^\[(.*)\]$/, '$1'), port: node.port ? Number(node.port) : 6379 };
  });
  const redisOptions: RedisOptions = {};
  if (auth) {
    // as ioredis reads redis://user:password@host (an empty user means AUTH with the password alone)
    const colon = auth.indexOf(':');
    const username = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon));
    if (username) redisOptions.username = username;
    redisOptions.password = colon < 0 ? '' : decodeURIComponent(auth.slice(colon + 1));
  }
  if (scheme === 'rediss') redisOptions.tls = {};
  return { cluster, options: { redisOptions } };
}

function openCluster(option: ClusterConnectionOptions, overrides: RedisOptions): OwnedConnection {
  if (!Array.isArray(option.cluster) || option.cluster.length === 0) {
    throw new InvalidOptionError('connection.cluster', 'expected a non-empty array of startup nodes, e.g. [{ host: "127.0.0.1", port: 7000 }]');
  }
  const options = option.options ?? {};
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('connection.options', 'expected ioredis Cluster options');
  refuseKeyPrefix('connection.options.keyPrefix', options.keyPrefix);
  refuseKeyPrefix('connection.options.redisOptions.keyPrefix', options.redisOptions?.keyPrefix);
  const cluster = new Cluster([...option.cluster], { ...options, redisOptions: { ...options.redisOptions, ...overrides } });
  return { redis: cluster, owned: true };
}

/**
 * Opens (or adopts) a connection. `overrides` apply only to connections kyoo
 * opens (for a cluster, to each node's connection); a caller-supplied
 * instance is used as it is.
 */
export function connect(option: ConnectionOption | undefined, overrides: RedisOptions = {}): OwnedConnection {
  if (isCluster(option)) {
    refuseKeyPrefix('connection.keyPrefix', option.options.keyPrefix || option.options.redisOptions?.keyPrefix);
    return { redis: option, owned: false };
  }
  if (isClient(option)) {
    refuseKeyPrefix('connection.keyPrefix', option.options.keyPrefix);
    return { redis: option, owned: false };
  }
  if (option === undefined) return { redis: new Redis({ ...overrides }), owned: true };
  if (typeof option === 'string') {
    if (CLUSTER_URL_RE.test(option)) return openCluster(parseClusterUrl(option), overrides);
    // ioredis reads options from the query string too (?keyPrefix=...)
    refuseKeyPrefix('connection.keyPrefix', parseRedisUrl(option).searchParams.get('keyPrefix') ?? undefined);
    return { redis: new Redis(option, { ...overrides }), owned: true };
  }
  if (typeof option === 'object' && option !== null) {
    if ('cluster' in option) return openCluster(option, overrides);
    refuseKeyPrefix('connection.keyPrefix', option.keyPrefix);
    return { redis: new Redis({ ...option, ...overrides }), owned: true };
  }
  throw new InvalidOptionError('connection', 'expected a Redis URL, ioredis options, cluster startup nodes or an ioredis instance');
}

/**
 * A second connection like `base` (for blocking calls, which would stall
 * every other command on a shared connection). For a Cluster, `overrides`
 * apply to each node's connection.
 */
export function duplicate(base: RedisConnection, overrides: RedisOptions = {}): RedisConnection {
  if (isCluster(base)) return base.duplicate([], { redisOptions: { ...base.options.redisOptions, ...overrides } });
  return base.duplicate({ ...overrides });
}

/**
 * The connection to the server that serves `slot`: `redis` itself, or for a
 * Cluster the connection to the slot's master; `undefined` while a Cluster
 * does not know its slots yet.
 */
export function serverFor(redis: RedisConnection, slot: number): Redis | undefined {
  if (!isCluster(redis)) return redis;
  const key = redis.slots[slot]?.[0];
  if (key === undefined) return undefined;
  return redis.nodes('all').find((node) => `${node.options.host}:${node.options.port}` === key);
}

/** Closes a connection kyoo owns; leaves a caller's instance open. */
export async function release(conn: OwnedConnection): Promise<void> {
  if (!conn.owned) return;
  try {
    await conn.redis.quit();
  } catch {
    conn.redis.disconnect();
  }
}

/**
 * Resolves once every connection in `conns` is connected and ready for
 * commands (at once when they are); a lazy connection is asked to connect.
 * Rejects with {@link ConnectionClosedError} naming `what` when `closed`
 * aborts (the queue or worker is closed) or a connection ends first.
 */
export async function whenReady(conns: readonly RedisConnection[], closed: AbortSignal, what: string): Promise<void> {
  for (const redis of conns) {
    if (closed.aborted || redis.status === 'end') throw new ConnectionClosedError(what);
    if (redis.status === 'ready') continue;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        redis.off('ready', onReady);
        redis.off('end', onEnd);
        closed.removeEventListener('abort', onEnd);
        if (err) reject(err);
        else resolve();
      };
      const onReady = (): void => done();
      const onEnd = (): void => done(new ConnectionClosedError(what));
      redis.once('ready', onReady);
      redis.once('end', onEnd);
      closed.addEventListener('abort', onEnd, { once: true });
      // lazyConnect: nothing connects until asked (a failed attempt retries as ioredis is set to)
      if (redis.status === 'wait') redis.connect().catch(() => undefined);
    });
  }
}
