import { Redis } from 'ioredis';
import { Queue, Worker } from 'kyoo';
import { afterAll, expect, test } from 'vitest';
import { cleanupPrefix, redisUrl, uniqueQueueName } from '../support/redis.js';

const redis = new Redis(redisUrl());
afterAll(async () => { await redis.quit(); });

test('add, process, ack', async () => {
  const name = uniqueQueueName('smoke');
  const q = new Queue<{ n: number }>(name, { connection: redisUrl() });
  const ids = await Promise.all([1, 2, 3].map((n) => q.add({ n })));
  expect(ids).toEqual(['1', '2', '3']);
  const seen: number[] = [];
  const done = new Promise<void>((resolve) => {
    const w = new Worker<{ n: number }>(name, async (job) => { seen.push(job.data.n); return job.data.n * 2; }, { connection: redisUrl() });
    w.on('error', (e) => console.error('worker error', e));
    w.on('completed', async () => { if (seen.length === 3) { await w.close(); resolve(); } });
  });
  await done;
  expect(seen).toEqual([1, 2, 3]);
  expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, dead: 0 });
  await q.close();
  await cleanupPrefix(redis, `kyoo:{${name}}:`);
});
