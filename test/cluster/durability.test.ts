// The `durability` option on a Redis Cluster: WAIT counts the writes of one socket, so it must
// go to the node that took the write (the master of the queue's slot), not to any node through
// the Cluster object, where it would confirm a write it never saw. A private cluster: the test
// freezes a replica.
import { keySlot, queueKeys } from '@kyoo/core';
import { DurabilityError, Queue } from 'kyoo';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, uniqueQueueName, type RedisCluster } from '../support/redis.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 30_000);
afterAll(async () => {
  await cluster?.stop();
});

it('durability.replicas waits on the queue\'s master: a frozen replica there is reported, whatever node WAIT could have reached', async () => {
  const name = uniqueQueueName('durable');
  const slot = keySlot(queueKeys('kyoo', name).ready);
  const nodes = await cluster.topology();
  const master = nodes.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b))!;
  const replica = nodes.find((n) => n.masterId === master.id)!;
  const q = new Queue(name, { connection: cluster.url, durability: { replicas: 1, timeoutMs: 200 } });
  try {
    await q.add({ n: 0 }); // the replica confirms

    await replica.server!.pause(); // SIGSTOP: the other masters' replicas still answer
    const outcomes: string[] = [];
    try {
      // sent to a random master, a WAIT would confirm two times out of three: five in a row rule that out
      for (let i = 1; i <= 5; i++) {
        outcomes.push(await q.add({ n: i }).then(() => 'confirmed', (err: unknown) => (err instanceof DurabilityError ? 'DurabilityError' : String(err))));
      }
    } finally {
      await replica.server!.resume();
    }
    expect(outcomes).toEqual(Array(5).fill('DurabilityError'));
    expect(await q.counts()).toMatchObject({ ready: 6 }); // unconfirmed, but written

    await q.add({ n: 6 }); // confirmed again once the replica catches up
  } finally {
    await q.close();
  }
}, 30_000);
