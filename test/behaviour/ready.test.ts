// queue.ready() and worker.ready(): a start-up waits for Redis instead of sleeping. Runs in
// both projects; the start-late case uses a server of its own (started after the queue).
import { ConnectionClosedError, Queue, Worker } from 'kyoo';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope } from '../support/behaviour.js';
import { clientsNamed, freePort, startRedis } from '../support/redis.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('ready');
});
afterEach(async () => {
  await s.dispose();
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('ready()', () => {
  it('a worker is ready when both of its connections are: the commands one and the blocking one', async () => {
    const w = s.trackWorker(new Worker(s.name, async () => 'done', { connection: s.named('w'), autostart: false }));
    await w.ready();
    const conns = await clientsNamed(s.admin, `${s.name}:w`);
    expect(conns).toHaveLength(2);
    await w.ready(); // again: at once
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.ready();
    const completed = new Promise((resolve) => w.once('completed', (job, value) => resolve([job.id, value])));
    w.run();
    const id = await q.add({ n: 1 });
    expect(await completed).toEqual([id, 'done']);
  });

  it('waits for a Redis that starts later: resolves when connected, then adds go through', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    // connections of the application's own, so the test can look at them as ready() resolves
    const forQueue = new Redis(url);
    const forWorker = new Redis(url, { connectionName: 'late-worker', maxRetriesPerRequest: null });
    const q = new Queue('late', { connection: forQueue });
    const w = new Worker('late', async () => 'ok', { connection: forWorker, autostart: false });
    const queueSaw = q.ready().then(() => forQueue.status);
    const workerSaw = w.ready().then(() => forWorker.status);
    const server = await startRedis({ port });
    const admin = new Redis(server.url);
    try {
      expect(await queueSaw).toBe('ready');
      expect(await workerSaw).toBe('ready');
      expect(await clientsNamed(admin, 'late-worker')).toHaveLength(2); // and its blocking connection
      const completed = new Promise((resolve) => w.once('completed', (job, value) => resolve([job.id, value])));
      w.run();
      const id = await q.add({ n: 1 });
      expect(await completed).toEqual([id, 'ok']);
    } finally {
      await w.close(0);
      await q.close();
      forQueue.disconnect();
      forWorker.disconnect();
      admin.disconnect();
      await server.stop();
    }
  });

  it('rejects with ConnectionClosedError when closed first, and on a closed queue or worker', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`; // nothing listens there
    const q = new Queue(s.name, { connection: url });
    const w = new Worker(s.name, async () => undefined, { connection: url, autostart: false });
    const waiting = [rejection(q.ready()), rejection(w.ready())];
    await Promise.all([q.close(), w.close(0)]);
    const [qErr, wErr] = await Promise.all(waiting);
    expect(qErr).toBeInstanceOf(ConnectionClosedError);
    expect((qErr as Error).message).toBe(`queue ${s.name} is closed`);
    expect(wErr).toBeInstanceOf(ConnectionClosedError);
    expect((wErr as Error).message).toBe(`worker of ${s.name} is closed`);
    expect(await rejection(q.ready())).toBeInstanceOf(ConnectionClosedError);
    expect(await rejection(w.ready())).toBeInstanceOf(ConnectionClosedError);
  });
});
