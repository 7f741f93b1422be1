// The lease sent right behind the blocking wait (docs/design/022-lease-behind-the-wait.md): an idle
// worker's lease call waits on its blocking connection behind the BLPOP, so a job added while it
// waits comes back with the wake-up. On a private redis-server, so that MONITOR sees this file only.
import { SCRIPTS, queueKeys } from '@kyoo/core';
import { Redis } from 'ioredis';
import { Queue, Worker } from 'kyoo';
import { afterEach, expect, test } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/behaviour.js';

interface Seen {
  /** The client's address, `host:port`. */
  source: string;
  /** `blpop`, a script's name (from FCALL, EVALSHA or EVAL), or the command's name. */
  what: string;
  args: string[];
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/**
 * The name of the kyoo script a command calls, if it is a script call. MONITOR shows an EVAL's
 * source escaped, so an EVAL is told by its keys (the queue's, by the names its header declares).
 */
function scriptOf(args: string[]): string | undefined {
  const [cmd, what] = [args[0]?.toLowerCase(), args[1]];
  for (const [name, s] of Object.entries(SCRIPTS)) {
    if ((cmd === 'fcall' && what === s.fn) || (cmd === 'evalsha' && what === s.sha)) return name;
    if (cmd === 'eval' && s.keyGroup.length === 0) {
      const queue = /\{([^}]+)\}/.exec(args[3] ?? '')?.[1];
      const keys = queue === undefined ? undefined : (queueKeys('kyoo', queue) as Record<string, string>);
      if (keys && Number(args[2]) === s.keys.length && s.keys.every((k, i) => keys[k] === args[3 + i])) return name;
    }
  }
  return undefined;
}

/**
 * A private server, and every command it runs from now on, in order. MONITOR's lines come on a
 * socket of their own, after the commands ran: `sync()` waits until every command run so far is in `seen`.
 */
async function monitored(): Promise<{ server: RedisServer; seen: Seen[]; admin: Redis; sync(): Promise<void> }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const admin = new Redis(server.url);
  const monitor = await admin.monitor(); // a connection of its own: admin stays usable
  cleanup.push(async () => {
    monitor.disconnect();
    admin.disconnect();
  });
  const seen: Seen[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ source, what: scriptOf(args) ?? args[0]!.toLowerCase(), args });
  });
  let marks = 0;
  const sync = async (): Promise<void> => {
    const mark = `sync-${++marks}`;
    await admin.echo(mark);
    await waitFor(() => seen.some((s) => s.what === 'echo' && s.args[1] === mark), 5000, 'MONITOR to catch up');
  };
  return { server, seen, admin, sync };
}

/** Waits until the worker is blocked in its BLPOP, and returns that connection's address. */
async function blockedAt(seen: Seen[], wake: string): Promise<string> {
  let source = '';
  await waitFor(() => {
    const pop = seen.findLast((s) => s.what === 'blpop' && s.args[1] === wake);
    source = pop?.source ?? '';
    return source !== '';
  }, 5000, 'the worker to block on its wake list');
  return source;
}

test('a job added while the worker waits is leased on the blocking connection, right as the wait ends', async () => {
  const { server, seen, sync } = await monitored();
  const name = 'behind';
  const queue = new Queue<{ n: number }>(name, { connection: server.url });
  const ran: number[] = [];
  const worker = new Worker<{ n: number }>(name, (job) => void ran.push(job.data.n), { connection: server.url });
  cleanup.push(() => queue.close(), () => worker.close(0));
  await Promise.all([queue.ready(), worker.ready()]);
  const wake = queueKeys('kyoo', name).wake;

  const blocker = await blockedAt(seen, wake);
  // it waits on its own wake list too, beside the queue's
  expect(seen.findLast((s) => s.what === 'blpop')!.args.slice(1, 3)).toEqual([wake, `${wake}:${worker.id}`]);
  const from = seen.length;
  await queue.add({ n: 1 });
  await waitFor(() => ran.length === 1, 5000, 'the job to run');
  await sync();

  const after = seen.slice(from);
  const enqueue = after.findIndex((s) => s.what === 'enqueue');
  const lease = after.findIndex((s) => s.what === 'lease');
  expect(enqueue).toBeGreaterThanOrEqual(0);
  // the first lease after the add is the one that waited behind the BLPOP, on the same connection
  expect(lease).toBeGreaterThan(enqueue);
  expect(after[lease]!.source).toBe(blocker);
  expect(after.slice(0, lease).some((s) => s.what === 'ack')).toBe(false);
  expect(ran).toEqual([1]);
});

test('close() ends the wait through the worker\'s own wake list: the waiting lease runs, and nothing is left behind', async () => {
  const { server, seen, admin, sync } = await monitored();
  const name = 'behind-close';
  const worker = new Worker(name, () => undefined, { connection: server.url });
  cleanup.push(() => worker.close(0));
  await worker.ready();
  const wake = queueKeys('kyoo', name).wake;
  const own = `${wake}:${worker.id}`;
  const blocker = await blockedAt(seen, wake);
  const from = seen.length;

  await worker.close();
  await sync();

  const after = seen.slice(from);
  const push = after.findIndex((s) => s.what === 'rpush' && s.args[1] === own);
  const lease = after.findIndex((s) => s.what === 'lease' && s.source === blocker);
  const pop = after.findIndex((s) => s.what === 'lpop' && s.args[1] === own);
  expect(push, 'the push to the own wake list').toBeGreaterThanOrEqual(0);
  expect(after[push + 1]).toMatchObject({ what: 'pexpire', args: ['pexpire', own, '60000'] });
  expect(lease, 'the waiting lease, run once the wait ended').toBeGreaterThan(push);
  expect(pop, 'the leftover popped').toBeGreaterThan(lease);
  expect(await admin.exists(own)).toBe(0);
});

test('a job added at the instant close() begins is given back unrun, with no attempt used, whichever runs first in Redis', async () => {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  for (let round = 0; round < 20; round++) {
    const name = `behind-race-${round}`;
    const queue = new Queue(name, { connection: server.url });
    const ran: string[] = [];
    const worker = new Worker(name, (job) => void ran.push(job.id), { connection: server.url });
    try {
      await Promise.all([queue.ready(), worker.ready()]);
      // wait until the worker is idle in its BLPOP
      const admin = new Redis(server.url);
      try {
        await waitFor(async () => String(await admin.client('LIST')).includes('cmd=blpop'), 5000, 'the worker to block');
        const [id] = await Promise.all([queue.add({ round }), worker.close()]);
        // close() stops leasing at once, so the job never starts: whether the waiting lease ran before the
        // enqueue (and found nothing) or after it (and leased the job, which is then released), it is back in line
        expect(ran).toEqual([]);
        expect(await queue.getJob(id)).toMatchObject({ state: 'ready', attemptsMade: 0 });
        expect(await admin.exists(`${queueKeys('kyoo', name).wake}:${worker.id}`)).toBe(0);
      } finally {
        admin.disconnect();
      }
    } finally {
      await worker.close(0);
      await queue.close();
    }
  }
});

/** The jobs a lease or ack call asks for (its first argument after the keys). */
function wanted(s: Seen): number {
  const keys = Number(s.args[2]);
  return Number(s.args[3 + keys]);
}

test('during the wait only the lease behind it leases: a due delayed job ends the wait through the own wake list', async () => {
  // a lease on the main connection while the one behind the BLPOP waits would bring jobs on two
  // connections, whose replies can be handled in either order: jobs would start out of lease order
  const { server, seen, sync } = await monitored();
  const name = 'behind-due';
  const queue = new Queue<{ n: number }>(name, { connection: server.url });
  const ran: number[] = [];
  const worker = new Worker<{ n: number }>(name, (job) => void ran.push(job.data.n), { connection: server.url, maxIdleMs: 30_000 });
  cleanup.push(() => queue.close(), () => worker.close(0));
  await Promise.all([queue.ready(), worker.ready()]);
  const wake = queueKeys('kyoo', name).wake;
  const own = `${wake}:${worker.id}`;
  const blocker = await blockedAt(seen, wake);
  const from = seen.length;

  // the add wakes the worker (it learns the due time), which waits again; its due timer then fires
  // while it waits, long before maxIdleMs
  await queue.add({ n: 1 }, { delayMs: 300 });
  await waitFor(() => ran.length === 1, 5000, 'the delayed job to run');
  await sync();

  const after = seen.slice(from);
  const push = after.findIndex((s) => s.what === 'rpush' && s.args[1] === own);
  expect(push, 'the due timer ends the wait with a push to the own wake list').toBeGreaterThanOrEqual(0);
  const leased = push + after.slice(push).findIndex((s) => s.what === 'lease');
  expect(leased, 'a lease once that wait ended').toBeGreaterThan(push);
  expect(after[leased]!.source, 'the lease behind the wait').toBe(blocker);
  // until then, every call that asked for jobs went behind a BLPOP, on the blocking connection
  const asking = after.slice(0, leased).filter((s) => (s.what === 'lease' || s.what === 'ack') && wanted(s) > 0);
  expect(asking.length, 'the lease that learned the due time').toBeGreaterThan(0);
  for (const c of asking) expect(c.source, `${c.what} asking for ${wanted(c)}`).toBe(blocker);
  expect(ran).toEqual([1]);
});
