// A topic with three subscriber queues on a single Redis: 5,000 messages, each exactly once in
// each queue, with one queue's workers down while they are published and Redis killed
// (SIGKILL, AOF fsync always) and restarted in the middle of publishing.
import { Redis } from 'ioredis';
import { afterAll, it } from 'vitest';
import { startRedis } from '../support/redis.js';
import { fanOutExactlyOnce } from '../support/topic-processes.js';
import { killAll } from '../support/worker-process.js';

afterAll(async () => {
  await killAll();
});

it('5,000 messages to three subscriber queues: each exactly once in each, across a Redis restart and a queue without workers', async () => {
  const server = await startRedis({ appendonly: true });
  const admin = new Redis(server.url);
  admin.on('error', () => undefined); // it reconnects after the restart
  try {
    await fanOutExactlyOnce({
      url: server.url,
      admin,
      name: 'fanout',
      messages: 5000,
      midway: {
        at: 2000,
        run: async () => {
          await server.kill('SIGKILL');
          await new Promise((r) => setTimeout(r, 500));
          await server.restart();
        },
      },
    });
  } finally {
    admin.disconnect();
    await server.stop();
  }
}, 180_000);
