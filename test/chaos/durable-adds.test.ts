// The `durability` option against a real primary and a real replica (a second redis-server
// started with --replicaof): add() resolves only once the replica has the job, rejects with
// DurabilityError (job written, not confirmed) when the replica cannot confirm in time, and
// refuses what the server cannot give (fsync before Redis 7.2) or what is malformed before
// anything is written.
import { Redis } from 'ioredis';
import { DurabilityError, InvalidOptionError, Queue } from 'kyoo';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cleanupPrefix, startRedis, uniqueQueueName, type RedisServer } from '../support/redis.js';

let primary: RedisServer;
let replica: RedisServer;
let onPrimary: Redis;
let onReplica: Redis;
const queues: Queue[] = [];
const open = (name: string, options: ConstructorParameters<typeof Queue>[1] = {}): Queue => {
  const q = new Queue(name, { connection: primary.url, ...options });
  queues.push(q);
  return q;
};

async function linkUp(timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const info = await onReplica.info('replication');
    if (/master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info)) return;
    if (Date.now() > end) throw new Error(`replica link not up after ${timeoutMs} ms:\n${info}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every key under `pattern` on `redis` (SCAN, never KEYS). */
async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

beforeAll(async () => {
  // no 5 s diskless-sync delay (the 7.0 default) before the replica's first full sync
  primary = await startRedis({ args: ['--repl-diskless-sync-delay', '0'] });
  replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  onPrimary = new Redis(primary.url);
  onReplica = new Redis(replica.url, { maxRetriesPerRequest: 1 });
  await linkUp();
}, 20_000);

afterAll(async () => {
  for (const q of queues) await q.close().catch(() => undefined);
  onPrimary?.disconnect();
  onReplica?.disconnect();
  await replica?.stop();
  await primary?.stop();
}, 20_000);

describe('durability: { replicas: 1 } with a live replica', () => {
  test('add() resolves only once the job is on the replica', async () => {
    const name = uniqueQueueName('durable');
    const queue = open(name, { durability: { replicas: 1 } });
    for (let i = 0; i < 20; i++) {
      const id = await queue.add({ i });
      // read at once, no waiting: WAIT has already confirmed the replica has it
      const [onRep, readyOnRep] = await Promise.all([
        onReplica.hexists(queue.keys.jobs, id),
        onReplica.lrange(queue.keys.ready, 0, -1),
      ]);
      expect(onRep, `job ${id} on the replica right after add() resolved`).toBe(1);
      expect(readyOnRep).toContain(id);
    }
    // same-tick adds (one batched call) and addBulk are covered the same way
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => queue.add({ i })));
    const bulk = await queue.addBulk(Array.from({ length: 1500 }, (_, i) => ({ data: { i } })));
    const onRepReady = new Set(await onReplica.lrange(queue.keys.ready, 0, -1));
    expect([...ids, ...bulk].filter((id) => !onRepReady.has(id))).toEqual([]);
    await cleanupPrefix(onPrimary, `kyoo:{${name}}:`);
  });
});

describe('durability: { replicas: 1, timeoutMs: 300 } with the replica frozen (SIGSTOP)', () => {
  test('add() rejects with DurabilityError within about the timeout; the job is on the primary', async () => {
    const name = uniqueQueueName('durable-stopped');
    const queue = open(name, { durability: { replicas: 1, timeoutMs: 300 } });
    await queue.counts(); // connection up before timing
    await replica.pause();
    try {
      const t0 = Date.now();
      const err = await queue.add({ order: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const tookMs = Date.now() - t0;
      expect(err).toBeInstanceOf(DurabilityError);
      const d = err as DurabilityError;
      expect(d.code).toBe('NOT_DURABLE');
      expect(d.jobIds).toHaveLength(1);
      expect(tookMs).toBeGreaterThanOrEqual(290);
      expect(tookMs).toBeLessThan(1500);
      // documented: written, but not confirmed
      const id = d.jobIds[0]!;
      expect(await onPrimary.hexists(queue.keys.jobs, id)).toBe(1);
      expect(await onPrimary.lrange(queue.keys.ready, 0, -1)).toEqual([id]);
      const info = await queue.getJob(id);
      expect(info?.state).toBe('ready');
    } finally {
      await replica.resume();
    }
    // once thawed, the replica catches up and has the job too
    await linkUp();
    const end = Date.now() + 5000;
    while ((await onReplica.llen(queue.keys.ready)) < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(await onReplica.llen(queue.keys.ready)).toBe(1);
    await cleanupPrefix(onPrimary, `kyoo:{${name}}:`);
  });
});

describe('durability options the server cannot honour or that are malformed', () => {
  test('fsync on Redis < 7.2 rejects with InvalidOptionError naming durability.fsync and writes nothing', async () => {
    const version = /redis_version:(\d+)\.(\d+)/.exec(await onPrimary.info('server'))!;
    const name = uniqueQueueName('durable-fsync');
    const queue = open(name, { durability: { fsync: true } });
    if (Number(version[1]) > 7 || (Number(version[1]) === 7 && Number(version[2]) >= 2)) {
      // a newer server would honour it; this test is about the refusal
      return;
    }
    for (const attempt of [() => queue.add({ a: 1 }), () => queue.addBulk([{ data: { a: 1 } }, { data: { a: 2 } }])]) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).option).toBe('durability.fsync');
      expect((err as Error).message).toMatch(/7\.2/);
    }
    expect(await scanKeys(onPrimary, `kyoo:{${name}}:*`)).toEqual([]);
  });

  test.each([
    ['replicas: -1', { replicas: -1 }, 'durability.replicas'],
    ["replicas: 'x'", { replicas: 'x' }, 'durability.replicas'],
    ['replicas: 1.5', { replicas: 1.5 }, 'durability.replicas'],
    ['timeoutMs: 0', { replicas: 1, timeoutMs: 0 }, 'durability.timeoutMs'],
    ["fsync: 'yes'", { fsync: 'yes' }, 'durability.fsync'],
    ['unknown key', { replica: 1 }, 'durability.replica'],
    ['not an object', 1, 'durability'],
  ])('%s → InvalidOptionError before anything is written', async (_label, durability, option) => {
    const name = uniqueQueueName('durable-invalid');
    let err: unknown;
    try {
      open(name, { durability: durability as never });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).option).toBe(option);
    expect(await scanKeys(onPrimary, `kyoo:{${name}}:*`)).toEqual([]);
  });
});
