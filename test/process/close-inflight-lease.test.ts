// A worker's close() while its first lease call is still in flight: the jobs that call
// brings back are not run after close() resolves, and are not kept either. It pauses a
// private single server with CLIENT PAUSE, so it lives here rather than in the behaviour
// suite (which also runs on the cluster, where it would only run twice).
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'kyoo';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { waitFor } from '../support/behaviour.js';
import { clientsNamed, namedConnection, startRedis, uniqueQueueName } from '../support/redis.js';

it('does not run or keep jobs that a lease call in flight at close() brings back', async () => {
  // A private server, so that pausing it does not slow the other test files.
  const server = await startRedis();
  const admin = new Redis(server.url);
  const name = uniqueQueueName('close-inflight');
  const q = new Queue(name, { connection: server.url });
  try {
    const id = await q.add({});
    const started: number[] = [];
    const finished: number[] = [];
    const w = new Worker(name, async () => {
      started.push(performance.now());
      await sleep(100);
      finished.push(performance.now());
    }, {
      connection: namedConnection(`${name}:w`, server.url),
      autostart: false,
      leaseMs: 5000,
    });
    // hold every script call for 300 ms: the worker's first lease call is in flight when close() starts
    await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
    w.run();
    await waitFor(async () => (await clientsNamed(admin, `${name}:w`)).some((c) => ['eval', 'fcall', 'function|load'].includes(c.cmd ?? '') && (c.flags ?? '').includes('b')),
      2000, "the worker's first lease call to wait in the pause");
    await w.close(1000);
    const closedAt = performance.now();
    // a write waits out the pause as the worker's lease call did, and was sent after it: once
    // it returns, Redis has run that call and sent its reply; one more round trip and a turn of
    // the event loop let this process read and handle whatever came back
    await admin.set(`kyoo:{${name}}:probe`, '1');
    await admin.ping();
    await new Promise((resolve) => setImmediate(resolve));
    // either the job was run and completed within close() (the grace is 1 s), or handed back untouched
    expect(started.filter((t) => t > closedAt), 'handlers started after close() resolved').toEqual([]);
    expect(finished.filter((t) => t > closedAt), 'handlers still running after close() resolved').toEqual([]);
    const job = await q.getJob(id);
    if (started.length === 0) expect(job).toMatchObject({ state: 'ready', attemptsMade: 0 });
    else expect(job).toBeNull();
  } finally {
    await q.close();
    await admin.quit();
    await server.stop();
  }
}, 20_000);
