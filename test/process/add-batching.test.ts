// How add() calls travel: one made while none is on its way goes out at once, in a call of its
// own; those made while one is travel together, in calls of up to 50. On a private redis-server, so that its command
// counters are this file's alone.
import { Queue } from 'kyoo';
import { afterEach, expect, test } from 'vitest';
import { redisCommand, startRedis, type RedisServer } from '../support/redis.js';

const servers: RedisServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

/** Script calls the server has run (FCALL, EVALSHA and EVAL together). */
async function scriptCalls(port: number): Promise<number> {
  const text = String(await redisCommand(port, ['INFO', 'commandstats']));
  return [...text.matchAll(/cmdstat_(?:fcall|evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

test('on an idle queue, the first of 151 same-tick adds goes alone and the other 150 in calls of 50; ids and order are kept', async () => {
  const server = await startRedis();
  servers.push(server);
  const queue = new Queue<{ n: number }>('batching', { connection: server.url });
  try {
    await queue.add({ n: -1 }); // the library is loaded and the id block reserved
    const before = await scriptCalls(server.port);
    const ids = await Promise.all(Array.from({ length: 151 }, (_, n) => queue.add({ n })));
    expect(await scriptCalls(server.port) - before, 'enqueue calls for 151 adds').toBe(4);
    expect(ids.map(Number)).toEqual([...ids.map(Number)].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(151);
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
    expect(jobs.map((j) => (j!.data as { n: number }).n)).toEqual(Array.from({ length: 151 }, (_, n) => n));
    // the calls ran in the order they were sent: the ready list holds the jobs in the order added
    const ready = (await redisCommand(server.port, ['LRANGE', queue.keys.ready, '0', '-1'])) as string[];
    expect(ready.slice(1)).toEqual(ids);
  } finally {
    await queue.close();
  }
});

test('adds one at a time, each awaited: one call each, none waits for another', async () => {
  const server = await startRedis();
  servers.push(server);
  const queue = new Queue<{ n: number }>('one-by-one', { connection: server.url });
  try {
    await queue.add({ n: -1 });
    const before = await scriptCalls(server.port);
    for (let n = 0; n < 10; n++) await queue.add({ n });
    expect(await scriptCalls(server.port) - before).toBe(10);
    expect((await queue.counts()).ready).toBe(11);
  } finally {
    await queue.close();
  }
});
