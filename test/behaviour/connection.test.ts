// The `connection` option: cluster startup nodes in every form kyoo takes, and ioredis's
// keyPrefix refused in every form (a brace in it would make every queue hash to one Cluster
// slot; any keyPrefix makes queue.keys and SCAN patterns miss what is stored). Runs in both
// projects: against one server and against the local cluster.
import { connect, duplicate, isCluster, release } from '@kyoo/core';
import { InvalidOptionError, Queue, Worker } from 'kyoo';
import { Cluster, Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, waitFor } from '../support/behaviour.js';
import { clientsNamed, onCluster } from '../support/redis.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('connection');
});
afterEach(async () => {
  await s.dispose();
});

async function expectRefused(fn: () => unknown, option: string, message: RegExp): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidOptionError);
  expect((err as InvalidOptionError).option).toBe(option);
  expect((err as InvalidOptionError).message).toMatch(message);
  expect((err as InvalidOptionError).message).toContain(option);
}

describe('ioredis keyPrefix', () => {
  const BRACE = /contains a brace.*one slot.*prefix option/;
  const ANY = /not supported.*queue\.keys.*prefix option/;
  // lazyConnect: these instances never open a socket, so nothing can be written through them
  const lazyRedis = (keyPrefix: string) => new Redis({ lazyConnect: true, keyPrefix });
  const lazyCluster = (options: ConstructorParameters<typeof Cluster>[1]) => new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, ...options });

  const cases: [string, () => unknown, string, RegExp][] = [
    ['with a brace in ioredis options', () => ({ keyPrefix: 'app{eu}:' }), 'connection.keyPrefix', BRACE],
    ['with a closing brace only', () => ({ keyPrefix: 'app}:' }), 'connection.keyPrefix', BRACE],
    ['without braces in ioredis options', () => ({ keyPrefix: 'app:' }), 'connection.keyPrefix', ANY],
    ['in a redis:// URL query', () => 'redis://127.0.0.1:1/?keyPrefix=%7Bapp%7D', 'connection.keyPrefix', BRACE],
    ['of an ioredis Redis instance', () => lazyRedis('{app}:'), 'connection.keyPrefix', BRACE],
    ['of an ioredis Cluster instance', () => lazyCluster({ keyPrefix: '{app}:' }), 'connection.keyPrefix', BRACE],
    ['of a Cluster instance, set in its redisOptions', () => lazyCluster({ redisOptions: { keyPrefix: 'app{x}' } }), 'connection.keyPrefix', BRACE],
    ['in cluster options', () => ({ cluster: [{ host: '127.0.0.1', port: 1 }], options: { keyPrefix: '{app}' } }), 'connection.options.keyPrefix', BRACE],
    ['in cluster redisOptions', () => ({ cluster: [{ host: '127.0.0.1', port: 1 }], options: { redisOptions: { keyPrefix: 'a{b}' } } }), 'connection.options.redisOptions.keyPrefix', BRACE],
  ];

  it.each(cases)('is refused %s, by Queue and Worker, before anything is written', async (_what, connection, option, message) => {
    await expectRefused(() => new Queue(s.name, { connection: connection() as never }), option, message);
    await expectRefused(() => new Worker(s.name, () => undefined, { connection: connection() as never }), option, message);
    expect(await s.existingKeys()).toEqual([]);
  });

  it('an instance with the default empty keyPrefix is accepted, used as it is and left open', async () => {
    // s.admin: an ioredis Redis, or a Cluster in the cluster project
    const q = new Queue(s.name, { connection: s.admin });
    const id = await q.add({ n: 1 });
    await q.close();
    expect(s.admin.status).toBe('ready');
    expect(await s.existingKeys()).toContain(q.keys.jobs);
    expect(await new Queue(s.name, { connection: s.admin }).getJob(id)).toMatchObject({ state: 'ready' });
  });
});

describe('cluster connection forms', () => {
  const bad: [string, unknown, string][] = [
    ['a cluster URL without nodes', 'redis-cluster://', 'connection'],
    ['a cluster URL with a database', 'redis-cluster://127.0.0.1:7000/1', 'connection'],
    ['a cluster URL with an empty node', 'redis-cluster://127.0.0.1:7000,,127.0.0.1:7001', 'connection'],
    ['a cluster URL with a bad port', 'redis-cluster://127.0.0.1:70000', 'connection'],
    ['an empty list of startup nodes', { cluster: [] }, 'connection.cluster'],
    ['startup nodes that are not a list', { cluster: '127.0.0.1:7000' }, 'connection.cluster'],
    ['cluster options that are not an object', { cluster: [7000], options: 'fast' }, 'connection.options'],
  ];
  it.each(bad)('refuses %s', async (_what, connection, option) => {
    await expectRefused(() => new Queue(s.name, { connection: connection as never }), option, /./);
  });

  it('reads startup nodes, user, password and TLS from a rediss-cluster:// URL', async () => {
    // (closed ports: the connection attempt it starts fails at once and is ended below)
    const conn = connect('rediss-cluster://ops:p%40ss@127.0.0.1:1,[::1]:2,localhost', { maxRetriesPerRequest: null });
    conn.redis.on('error', () => undefined);
    try {
      expect(isCluster(conn.redis)).toBe(true);
      const cluster = conn.redis as Cluster;
      expect((cluster as unknown as { startupNodes: unknown }).startupNodes).toEqual([{ host: '127.0.0.1', port: 1 }, { host: '::1', port: 2 }, { host: 'localhost', port: 6379 }]);
      expect(cluster.options.redisOptions).toMatchObject({ username: 'ops', password: 'p@ss', tls: {}, maxRetriesPerRequest: null });
    } finally {
      conn.redis.disconnect();
    }
  });

  it('applies overrides (the worker\'s maxRetriesPerRequest: null) to every node, and duplicate() keeps the caller\'s node options', async () => {
    const conn = connect({ cluster: [{ host: '127.0.0.1', port: 1 }], options: { lazyConnect: true, redisOptions: { connectTimeout: 1234 } } }, { maxRetriesPerRequest: null });
    const dup = duplicate(conn.redis, { maxRetriesPerRequest: null, enableAutoPipelining: false });
    try {
      expect(conn.owned).toBe(true);
      expect((conn.redis as Cluster).options.redisOptions).toEqual({ connectTimeout: 1234, maxRetriesPerRequest: null });
      expect(isCluster(dup)).toBe(true);
      expect((dup as Cluster).options.redisOptions).toEqual({ connectTimeout: 1234, maxRetriesPerRequest: null, enableAutoPipelining: false });
      expect((dup as unknown as { startupNodes: unknown }).startupNodes).toEqual([{ host: '127.0.0.1', port: 1 }]);
    } finally {
      conn.redis.disconnect();
      dup.disconnect();
    }
  });

  it('a duplicate blocks in BLPOP while the first connection keeps working, on this project\'s target', async () => {
    const conn = connect(s.url, { maxRetriesPerRequest: null });
    const blockerName = `${s.name}:blocker`;
    const blocker = duplicate(conn.redis, { maxRetriesPerRequest: null, connectionName: blockerName });
    try {
      expect(isCluster(conn.redis)).toBe(onCluster());
      expect(isCluster(blocker)).toBe(onCluster());
      let popped: [string, string] | null = null;
      const blocked = blocker.blpop(s.keys.wake, 5).then((r) => (popped = r));
      // really blocked in Redis (CLIENT LIST), before the first connection is tried
      await waitFor(async () => (await clientsNamed(s.admin, blockerName)).some((c) => c.cmd === 'blpop' && (c.flags ?? '').includes('b')),
        2000, 'the duplicate to block in BLPOP');
      await conn.redis.set(s.keys.ids, '7'); // answered at once although the other connection blocks
      expect(await conn.redis.get(s.keys.ids)).toBe('7');
      expect(popped).toBeNull();
      await conn.redis.rpush(s.keys.wake, 'token');
      await waitFor(() => popped !== null, 2000, 'BLPOP to return');
      await blocked;
      expect(popped).toEqual([s.keys.wake, 'token']);
    } finally {
      await release(conn);
      blocker.disconnect();
    }
  });
});
