// Regression test: addBulk() with `durability` and a replica that cannot confirm.
//
// The contract (queue.ts QueueOptions.durability, durability.ts DurabilityError): a write that is
// not confirmed in time rejects with DurabilityError and "the job was added". addBulk() of more
// than 1,000 jobs sends calls of 1,000; it used to confirm after each, so the first confirm threw,
// the remaining jobs were never written, and the error listed only the first call's 1,000 ids.
// Now every call is written first and one confirmation covers them all (add-batcher.ts send()).
import { Redis } from 'ioredis';
import { DurabilityError, Queue } from 'kyoo';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startRedis, uniqueQueueName, type RedisServer } from '../support/redis.js';

let primary: RedisServer;
let replica: RedisServer;
let onReplica: Redis;
let queue: Queue | undefined;

beforeAll(async () => {
  // no 5 s diskless-sync delay (the 7.0 default) before the replica's first full sync
  primary = await startRedis({ args: ['--repl-diskless-sync-delay', '0'] });
  replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  onReplica = new Redis(replica.url);
  const end = Date.now() + 10_000;
  while (!/master_link_status:up/.test(await onReplica.info('replication'))) {
    if (Date.now() > end) throw new Error('replica link not up');
    await new Promise((r) => setTimeout(r, 20));
  }
}, 20_000);

afterAll(async () => {
  await queue?.close().catch(() => undefined);
  onReplica?.disconnect();
  await replica?.resume();
  await replica?.stop();
  await primary?.stop();
}, 20_000);

test('addBulk of 2,500 with an unconfirming replica: DurabilityError covers every job, and every job is written', async () => {
  queue = new Queue(uniqueQueueName('durable-bulk'), { connection: primary.url, durability: { replicas: 1, timeoutMs: 200 } });
  await queue.counts();
  await replica.pause();
  const err = await queue.addBulk(Array.from({ length: 2500 }, (_, i) => ({ data: { i } }))).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DurabilityError);
  // what "added, but not confirmed" promises: all 2,500 are in the queue and named by the error
  expect((await queue.counts()).ready).toBe(2500);
  expect((err as DurabilityError).jobIds).toHaveLength(2500);
  expect(new Set((err as DurabilityError).jobIds).size).toBe(2500);
});
