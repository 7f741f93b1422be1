// Helpers for the behaviour suites (test/behaviour): a per-test scope that owns a queue name,
// an admin connection and everything opened in the test, plus direct access to the Lua scripts.
import { Scripts, encodeData, encodeRecord, jobOpts, queueKeys, type JobRecord, type LeaseReply, type QueueKeys, type QueuePolicy, type ScriptArgs, type ScriptName, type ScriptReply } from '@kyoo/core';
import { Queue } from 'kyoo';
import type { Cluster, Redis } from 'ioredis';
import { adminConnection, cleanupPrefix, clientsNamed, namedConnection, redisUrl, scanKeys, uniqueQueueName } from './redis.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A promise with its resolve function outside. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `cond` every 5 ms until it is true; throws after `timeoutMs` naming `what`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A job record like the client writes, for enqueueing through the script directly. */
export function record(data: unknown, over: Partial<JobRecord> = {}): Buffer {
  return encodeRecord({
    payload: encodeData('data', data),
    attempts: 3,
    backoffType: 'fixed',
    backoffMs: 0,
    backoffMaxMs: 0,
    jitter: 0,
    createdAt: Date.now(),
    timeoutMs: 0,
    priority: 0,
    dedupKey: '',
    dedupMode: 0,
    ...over,
  });
}

/** What an enqueue entry may override (its priority, dedup and group are folded into `opts` as the client does). */
export interface EntryOverrides {
  gen?: boolean;
  delay?: number;
  priority?: number;
  dedup?: string;
  dedupMode?: number;
  dedupMs?: number;
  group?: string;
}

/** One entry of the enqueue script's `jobs` (by default: a caller's own id, due now, no priority or dedup). */
export function enqueueEntry(id: string, rec: Buffer, over: EntryOverrides = {}): ScriptArgs<'enqueue'>['jobs'][number] {
  const { gen = false, delay = 0, priority = 0, dedup = '', dedupMode = 0, dedupMs = 0, group = '' } = over;
  const opts = jobOpts({ priority, dedupMode, dedupMs, dedupKey: dedup, group });
  return { id, gen, delay, opts, record: rec };
}

interface Closable {
  close(): Promise<unknown>;
}

/**
 * Everything one test owns: a unique queue name, an admin connection, the script runner for
 * the queue, and the queues/workers/connections it opened (closed, then the queue's keys
 * removed with SCAN + UNLINK, by dispose()). Against the cluster project's target, `url` is
 * a `redis-cluster://` URL and `admin` an ioredis Cluster; SCAN runs on every master.
 */
export class Scope {
  readonly name: string;
  readonly url = redisUrl();
  readonly prefix = 'kyoo';
  readonly keys: QueueKeys;
  readonly admin: Redis | Cluster;
  readonly scripts: Scripts;
  private readonly closers: (() => Promise<unknown>)[] = [];

  constructor(label: string) {
    this.name = uniqueQueueName(label);
    this.keys = queueKeys(this.prefix, this.name);
    this.admin = adminConnection(this.url);
    this.scripts = new Scripts(this.keys);
  }

  /** Registers a queue (or anything with close()) to close at the end of the test. */
  track<T extends Closable>(thing: T): T {
    this.closers.push(() => thing.close());
    return thing;
  }

  /** Registers a worker to close at the end of the test, without a grace period. */
  trackWorker<T extends { close(graceMs?: number): Promise<unknown> }>(worker: T): T {
    this.closers.push(() => worker.close(0));
    return worker;
  }

  /** Registers a cleanup function. */
  defer(fn: () => Promise<unknown> | unknown): void {
    this.closers.push(async () => fn());
  }

  /** Runs one of kyoo's scripts for this queue on the admin connection, through the typed script layer. */
  call<N extends ScriptName>(name: N, args: ScriptArgs<N>): Promise<ScriptReply<N>> {
    return this.scripts.call(this.admin, name, args);
  }

  /** `lease` with n jobs for leaseMs. */
  lease(n: number, leaseMs: number): Promise<LeaseReply> {
    return this.call('lease', { n, leaseMs, rnd: 0, nonce: 'test', worker: '' });
  }

  /** Sets the queue's policy (through a Queue, as a user would). */
  async policy(policy: QueuePolicy): Promise<void> {
    const q = new Queue(this.name, { connection: this.url, prefix: this.prefix });
    try {
      await q.setPolicy(policy);
    } finally {
      await q.close();
    }
  }

  /**
   * A `connection` option for this scope's target whose connections carry a client name
   * made of the queue's name and `label`: give it to a Worker, then {@link Scope.waitBlocked}
   * tells when that worker is idle, blocked in BLPOP on the wake list.
   */
  named(label: string): ReturnType<typeof namedConnection> {
    return namedConnection(`${this.name}:${label}`, this.url);
  }

  /**
   * Waits until a connection opened with {@link Scope.named}(label) is blocked in BLPOP
   * (CLIENT LIST: cmd=blpop, flag b). A worker blocks only when its last lease call came back
   * short and it has a free slot; an add (or a resume, release, replay) leaves one wake token,
   * which a blocked worker takes at once and an unblocked one finds on its next BLPOP. So when
   * the only worker of a queue is seen blocked after an add has returned, it has looked at the
   * queue since that add, found nothing it may lease, and does nothing more until woken.
   */
  async waitBlocked(label: string, timeoutMs = 5000): Promise<void> {
    const name = `${this.name}:${label}`;
    await waitFor(async () => (await clientsNamed(this.admin, name)).some((c) => c.cmd === 'blpop' && (c.flags ?? '').includes('b')),
      timeoutMs, `worker ${label} to block in BLPOP`);
  }

  /** Redis's clock (TIME) in ms since epoch: the clock leases and due times are kept in. */
  async redisNow(): Promise<number> {
    const [sec, usec] = (await this.admin.time()) as unknown as [string | number, string | number];
    return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  }

  /** Waits until the lease on `id` has run out by Redis's clock (its `leased` score is past). */
  async waitLeaseExpired(id: string, timeoutMs = 5000): Promise<void> {
    const score = await this.admin.zscore(this.keys.leased, id);
    if (score === null) throw new Error(`job ${id} is not leased`);
    await waitFor(async () => (await this.redisNow()) > Number(score), timeoutMs, `the lease of job ${id} to run out`);
  }

  /** Every key of the queue that exists in Redis (SCAN on every master, never KEYS). */
  existingKeys(): Promise<string[]> {
    return scanKeys(this.admin, `${this.prefix}:{${this.name}}:*`);
  }

  async dispose(): Promise<void> {
    for (const close of this.closers.reverse()) {
      try {
        await close();
      } catch {
        // already closed, or Redis gone: nothing left to do
      }
    }
    await cleanupPrefix(this.admin, `${this.prefix}:{${this.name}}:`);
    await this.admin.quit();
  }
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
