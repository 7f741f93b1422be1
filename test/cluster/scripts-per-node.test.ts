// kyoo's scripts on a Redis Cluster, where one ioredis Cluster object talks to several nodes and
// each node has its own script cache (and, since Redis 7.0, a replica promoted by a failover has
// none) and its own Functions library (which replicas do get). Callers never see NOSCRIPT or a
// missing function (kyoo falls back to EVAL), so these tests read the nodes' error counters
// (INFO errorstats) to see whether an EVALSHA ever reached a node without the script. A private
// cluster: the tests flush scripts and functions and kill a master.
import { LIBRARY, keySlot, queueKeys } from '@kyoo/core';
import { Queue, Worker } from 'kyoo';
import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/behaviour.js';
import { cleanupPrefix, keySlot as serverSideSlot, redisCommand, startCluster, uniqueQueueName, type ClusterNodeInfo, type RedisCluster } from '../support/redis.js';

let cluster: RedisCluster;
let conn: Cluster;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  cluster = await startCluster();
}, 30_000);

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  if (conn) {
    await cleanupPrefix(conn, 'kyoo:*').catch(() => undefined);
    conn.disconnect();
  }
});

afterAll(async () => {
  await cluster?.stop();
});

/** One Cluster connection for every queue and worker of a test, as an application would share it. */
async function openCluster(): Promise<Cluster> {
  conn = new Cluster(cluster.startupNodes);
  await conn.ping();
  return conn;
}

/** INFO errorstats / commandstats counters of one node. */
async function stats(port: number): Promise<{ noscript: number; err: number; eval: number; evalsha: number; fcall: number }> {
  const errors = String(await redisCommand(port, ['INFO', 'errorstats']));
  const commands = String(await redisCommand(port, ['INFO', 'commandstats']));
  const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(commands)?.[1] ?? 0);
  const count = (error: string) => Number(new RegExp(`errorstat_${error}:count=(\\d+)`).exec(errors)?.[1] ?? 0);
  return { noscript: count('NOSCRIPT'), err: count('ERR'), eval: calls('eval'), evalsha: calls('evalsha'), fcall: calls('fcall') };
}

/** Whether this build's Functions library is loaded on the node at `port`. */
async function hasLibrary(port: number): Promise<boolean> {
  const list = (await redisCommand(port, ['FUNCTION', 'LIST', 'LIBRARYNAME', LIBRARY.name])) as unknown[];
  return list.length === 1;
}

/** The master serving a queue's slot. */
async function masterOf(queue: string): Promise<ClusterNodeInfo> {
  const slot = keySlot(queueKeys('kyoo', queue).ready);
  const master = (await cluster.topology()).find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!master) throw new Error(`no master serves slot ${slot}`);
  return master;
}

/** `count` queue names whose slots are on `count` different masters. */
async function namesOnDistinctMasters(label: string, count: number): Promise<{ name: string; master: ClusterNodeInfo }[]> {
  const picked: { name: string; master: ClusterNodeInfo }[] = [];
  while (picked.length < count) {
    const name = uniqueQueueName(label);
    const master = await masterOf(name);
    if (!picked.some((p) => p.master.id === master.id)) picked.push({ name, master });
  }
  return picked;
}

/** A queue and a worker on `conn` that records completions and errors. */
function open(name: string) {
  const queue = new Queue<{ n: number }>(name, { connection: conn });
  const worker = new Worker<{ n: number }>(name, (job) => job.data.n * 2, { connection: conn, concurrency: 4 });
  const completed: number[] = [];
  const errors: Error[] = [];
  worker.on('completed', (_job, result) => void completed.push(result as number));
  worker.on('error', (err) => void errors.push(err));
  closers.push(() => queue.close(), () => worker.close(0));
  return { queue, worker, completed, errors };
}

/** Adds n jobs (one by one and in bulk) and waits until the worker completed them all. */
async function roundTrip(q: ReturnType<typeof open>, n: number, timeoutMs = 5000): Promise<void> {
  const before = q.completed.length;
  await Promise.all(Array.from({ length: n / 2 }, (_, i) => q.queue.add({ n: i })));
  await q.queue.addBulk(Array.from({ length: n / 2 }, (_, i) => ({ data: { n: i } })));
  await waitFor(() => q.completed.length >= before + n, timeoutMs, `${n} jobs of ${q.queue.name} to complete`);
}

describe('the key module and the cluster agree', () => {
  it('keySlot() is the slot CLUSTER KEYSLOT gives, for queue keys and odd hash tags', async () => {
    const keys = [
      ...Array.from({ length: 40 }, (_, i) => queueKeys('kyoo', uniqueQueueName(`slot-${i}`)).ready),
      queueKeys('app.v2', 'Images_2.v1#0:eu-west').jobs,
      'plain-key', '{}', 'a{}b', '{}{x}', '{a}{b}', '{', 'x}', 'a{b', 'bilder-ä{ü}', '',
    ];
    const port = cluster.servers[0]!.port;
    for (const key of keys) {
      expect(keySlot(key), key).toBe(Number(await redisCommand(port, ['CLUSTER', 'KEYSLOT', key])));
      expect(serverSideSlot(key), `scripts/lib/cluster.mjs for ${key}`).toBe(keySlot(key));
    }
  });
});

describe('scripts on several nodes through one Cluster connection', () => {
  it('two queues on different masters: each node gets the library, calls there are FCALL, and none answers NOSCRIPT', async () => {
    await openCluster();
    const [a, b] = await namesOnDistinctMasters('per-node', 2);
    const before = { a: await stats(a!.master.port), b: await stats(b!.master.port) };
    const qa = open(a!.name);
    const qb = open(b!.name);
    for (let round = 0; round < 3; round++) {
      await roundTrip(qa, 10);
      await roundTrip(qb, 10);
    }
    const after = { a: await stats(a!.master.port), b: await stats(b!.master.port) };
    for (const side of ['a', 'b'] as const) {
      expect(after[side].noscript - before[side].noscript, `NOSCRIPT replies on master ${side}`).toBe(0);
      // the library is used on both nodes: most calls are FCALL, not EVAL every time
      expect(after[side].fcall - before[side].fcall, `FCALL calls on master ${side}`).toBeGreaterThan(after[side].eval - before[side].eval);
      expect(await hasLibrary(side === 'a' ? a!.master.port : b!.master.port), `the library on master ${side}`).toBe(true);
    }
    expect([...qa.errors, ...qb.errors].map((e) => e.message)).toEqual([]);
    expect(conn.status, 'a caller\'s Cluster connection is left open').toBe('ready');
  });

  it('SCRIPT FLUSH and FUNCTION FLUSH on one node: the next calls there recover with EVAL, nobody sees an error, and FCALL resumes', async () => {
    await openCluster();
    const [a, b] = await namesOnDistinctMasters('flush', 2);
    const qa = open(a!.name);
    const qb = open(b!.name);
    await roundTrip(qa, 10);
    await roundTrip(qb, 10);

    // counters from before the flush: a call of the workers still in flight may meet the flushed
    // node at once (and recover), before anything further is sent
    const flushed = { a: await stats(a!.master.port), b: await stats(b!.master.port) };
    expect(await redisCommand(b!.master.port, ['SCRIPT', 'FLUSH'])).toBe('OK');
    expect(await redisCommand(b!.master.port, ['FUNCTION', 'FLUSH'])).toBe('OK');
    await roundTrip(qa, 10);
    await roundTrip(qb, 10); // add() calls resolve and the worker completes them: recovered
    const recovered = { a: await stats(a!.master.port), b: await stats(b!.master.port) };
    expect(recovered.a.err, 'errors on the node that was not flushed').toBe(flushed.a.err);
    expect(recovered.a.noscript, 'NOSCRIPT on the node that was not flushed').toBe(flushed.a.noscript);
    expect(recovered.b.err, 'the flushed node answered "function not found" (the fallback was exercised)').toBeGreaterThan(flushed.b.err);

    await roundTrip(qb, 10);
    const later = await stats(b!.master.port);
    expect(await hasLibrary(b!.master.port), 'the library loaded again on the flushed node').toBe(true);
    expect(later.err, 'no more errors once the node has the library again').toBe(recovered.b.err);
    expect(later.noscript, 'no NOSCRIPT there either').toBe(recovered.b.noscript);
    expect(later.fcall).toBeGreaterThan(recovered.b.fcall);
    expect([...qa.errors, ...qb.errors].map((e) => e.message)).toEqual([]);
  });
});

/** Moves `slot` with its keys from master `from` to master `to` (CLUSTER SETSLOT + MIGRATE), as resharding does. */
async function migrateSlot(slot: number, from: ClusterNodeInfo, to: ClusterNodeInfo): Promise<void> {
  await redisCommand(to.port, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id]);
  await redisCommand(from.port, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id]);
  for (;;) {
    const keys = (await redisCommand(from.port, ['CLUSTER', 'GETKEYSINSLOT', slot, 100])) as string[];
    if (keys.length === 0) break;
    await redisCommand(from.port, ['MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys]);
  }
  for (const node of [to, from, ...(await cluster.topology()).filter((n) => n.role === 'master' && n.id !== from.id && n.id !== to.id)]) {
    await redisCommand(node.port, ['CLUSTER', 'SETSLOT', slot, 'NODE', to.id]);
  }
}

describe('a slot that moves', () => {
  it('the queue keeps working on its new master, which gets at most one NOSCRIPT (the call that met MOVED), never seen by anyone', async () => {
    await openCluster();
    const [m, other] = await namesOnDistinctMasters('moved', 2);
    const slot = keySlot(queueKeys('kyoo', m!.name).ready);
    const q = open(m!.name);
    await roundTrip(q, 10);
    await q.queue.add({ n: 100 }, { delayMs: 60_000 }); // a key that must move with the slot
    const before = { from: await stats(m!.master.port), to: await stats(other!.master.port) };

    await migrateSlot(slot, m!.master, other!.master);
    await roundTrip(q, 10); // the idle worker's BLPOP is redirected too, or nothing would complete
    await roundTrip(q, 10);

    const after = { from: await stats(m!.master.port), to: await stats(other!.master.port) };
    expect(after.from.noscript, 'NOSCRIPT on the old master').toBe(before.from.noscript);
    expect(after.to.noscript - before.to.noscript, 'NOSCRIPT on the new master').toBeLessThanOrEqual(1);
    expect(await q.queue.counts()).toMatchObject({ ready: 0, delayed: 1, leased: 0 });
    expect(await redisCommand(m!.master.port, ['CLUSTER', 'COUNTKEYSINSLOT', slot])).toBe(0);
    expect(q.errors.map((e) => e.message)).toEqual([]);
  });
});

// Last in this file: it kills a master of the private cluster.
describe('failover', () => {
  it('a promoted replica has no scripts but has the library: kyoo calls it with FCALL there, and it never answers NOSCRIPT', async () => {
    await openCluster();
    const [f] = await namesOnDistinctMasters('failover', 1);
    const master = f!.master;
    const replica = (await cluster.topology()).find((n) => n.masterId === master.id);
    if (!replica?.server || !master.server) throw new Error(`master ${master.port} has no replica process`);
    const q = open(f!.name);
    await roundTrip(q, 10);
    // Redis 7.0 does not replicate scripts: the replica really has none to start with
    const sha = (await redisCommand(master.port, ['SCRIPT', 'LOAD', 'return 1'])) as string; // (a script of the test's own)
    expect(await redisCommand(replica.port, ['SCRIPT', 'EXISTS', sha])).toEqual([0]);
    // functions are replicated: the replica has the library the master loaded
    await waitFor(() => hasLibrary(replica.port), 5000, 'the library on the replica');

    await master.server.kill('SIGKILL');
    await waitFor(async () => {
      const now = (await cluster.topology()).find((n) => n.id === replica.id);
      return now?.role === 'master' && now.slots.length > 0;
    }, 15_000, `replica ${replica.port} to take over`);

    // each connection's first call there goes as EVAL (or EVALSHA) while its FUNCTION LOAD is on its way
    // ("already exists"); a worker's blocking connection may meet the new master only with the lease it sends
    // behind a BLPOP, which runs when a later add wakes it. So: after a first round, most calls are FCALL
    await roundTrip(q, 10, 20_000);
    const warm = await stats(replica.port);
    await roundTrip(q, 10);
    await roundTrip(q, 10);
    const after = await stats(replica.port);
    expect(after.noscript, 'NOSCRIPT replies on the promoted replica').toBe(0);
    const grew = { fcall: after.fcall - warm.fcall, other: after.eval - warm.eval + after.evalsha - warm.evalsha };
    expect(grew.fcall, 'FCALL calls on the promoted replica').toBeGreaterThanOrEqual(4);
    expect(grew.other, 'EVAL and EVALSHA calls (first contacts only)').toBeLessThan(grew.fcall);
    // connection errors while the master was gone are reported as worker errors; NOSCRIPT never
    expect(q.errors.map((e) => e.message).filter((m) => /NOSCRIPT/.test(m))).toEqual([]);
  }, 60_000);
});
