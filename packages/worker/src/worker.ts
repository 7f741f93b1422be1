import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InvalidOptionError,
  LeaseLostError,
  ResultCode,
  ScriptRunner,
  connect,
  decode,
  decodeRecord,
  duplicate,
  encode,
  log,
  queueKeys,
  release,
  type JobRecord,
  type OwnedConnection,
  type QueueKeys,
  type RedisConnection,
} from '@kyoo/core';
import type { Handler, Job } from './job.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.js';
import { Heartbeat } from './heartbeat.js';
import { runHandler } from './run-handler.js';
import { Settler, type InFlight } from './settle.js';

/** Events a {@link Worker} emits. */
export interface WorkerEvents<T, R> {
  /** A run succeeded and its ack was applied. */
  completed: [job: Job<T>, result: R];
  /** A run failed (it will be retried or dead-lettered; see `retried` and `dead`). */
  failed: [job: Job<T>, error: Error];
  /** A failed run will be retried after `delayMs`. */
  retried: [job: Job<T>, error: Error, delayMs: number];
  /** The job moved to the dead-letter queue (out of attempts, or undecodable). */
  dead: [job: Job<T | undefined>, error: Error];
  /** A problem of the worker's own: Redis errors (retried), lost leases (`LeaseLostError`). */
  error: [error: Error];
}

const MAX_ACKS_PER_CALL = 1000;
/** Ack/lease calls a worker keeps in flight at once. */
const MAX_CALLS = 2;

/**
 * The consumer side of a queue: leases jobs in batches up to its free slots,
 * runs the handler with an `AbortSignal`, acks in batches (together with the
 * next lease, in one round trip), heartbeats every in-flight lease in one
 * call, retries failures with backoff and dead-letters jobs out of attempts.
 *
 * @example
 * const worker = new Worker<{ imageUrl: string }>('images', async (job) => {
 *   return await makeThumbnails(job.data.imageUrl)
 * }, { connection: 'redis://127.0.0.1:6379', concurrency: 20 })
 * worker.on('dead', (job, err) => console.warn(`job ${job.id} dead: ${err.message}`))
 * process.on('SIGTERM', () => worker.close())
 */
export class Worker<T = unknown, R = unknown> extends EventEmitter<WorkerEvents<T, R>> {
  /** The queue's name. */
  readonly name: string;
  /** @internal */ readonly opts: ResolvedWorkerOptions;
  /** @internal */ readonly keys: QueueKeys;
  /** @internal */ readonly scripts: ScriptRunner;
  /** @internal */ readonly conn: OwnedConnection;
  private readonly blocker: RedisConnection;
  private readonly handler: Handler<T, R>;
  private readonly wantsSignal: boolean;
  private readonly settler: Settler<T, R>;
  /** @internal in-flight runs by fencing token */
  readonly inflight = new Map<string, InFlight<T>>();
  private acks: { entry: InFlight<T>; job: Job<T>; result: R; encoded: Buffer | '' }[] = [];
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private calls = 0;
  private reserved = 0;
  private readonly batchMax: number;
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private idleCalls: (() => void)[] = [];
  private pumpScheduled = false;
  private starved = false;
  private nextInMs = 0;
  private blocking = false;
  private errorStreak = 0;
  private readonly heartbeat: Heartbeat<T, R>;
  private waiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  constructor(name: string, handler: Handler<T, R>, options: WorkerOptions = {}) {
    super();
    this.opts = resolveWorkerOptions(options);
    this.keys = queueKeys(this.opts.prefix, name);
    this.name = name;
    if (typeof handler !== 'function') throw new InvalidOptionError('handler', 'expected a function (job, signal) => result');
    this.handler = handler;
    this.wantsSignal = handler.length >= 2;
    this.conn = connect(this.opts.connection, { maxRetriesPerRequest: null });
    this.blocker = duplicate(this.conn.redis, { maxRetriesPerRequest: null });
    for (const r of [this.conn.redis, this.blocker]) r.on('error', (err: Error) => log.worker('%s: redis: %s', name, err.message));
    // after a reconnect, look at the queue again instead of trusting a wake-up that may be gone
    this.conn.redis.on('ready', () => this.wakeUp());
    this.scripts = new ScriptRunner(this.keys);
    this.settler = new Settler(this);
    this.heartbeat = new Heartbeat(this, this.settler);
    this.batchMax = Math.max(1, Math.ceil(this.opts.concurrency / MAX_CALLS));
    if (this.opts.autostart) this.run();
  }

  /** Starts leasing (called by the constructor unless `autostart: false`). */
  run(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.heartbeat.start();
    this.schedulePump();
  }

  /** Whether the worker is leasing (not yet closing). */
  isRunning(): boolean {
    return this.state === 'running';
  }

  /**
   * Stops leasing, lets running jobs finish for up to `graceMs`, then aborts
   * the rest (their signals fire) and releases their leases so another
   * worker takes them at once. Always resolves, even when Redis is down.
   */
  close(graceMs = this.opts.closeGraceMs): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  /** @internal report a worker-level problem without throwing when nobody listens */
  emitError(err: Error): void {
    log.worker('%s: %s', this.name, err.message);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** @internal a slot freed or an ack is pending: run the pump soon, once for many events */
  schedulePump(): void {
    this.notifyIdle();
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** @internal queue a successful run for the next ack call */
  queueAck(entry: InFlight<T>, job: Job<T>, result: R): void {
    let encoded: Buffer | '' = '';
    if (this.opts.keepCount > 0 && result !== undefined) {
      try {
        encoded = encode(result);
      } catch (err) {
        log.worker('job %s: result not kept, it cannot be encoded: %s', job.id, (err as Error).message);
      }
    }
    this.acks.push({ entry, job, result, encoded });
    this.schedulePump();
  }

  /** Something may be ready: lease now (no extra tick, this is the pickup-latency path). */
  private wakeUp(): void {
    this.starved = false;
    if (this.state === 'running') this.pump();
  }

  private free(): number {
    return this.state === 'running' ? this.opts.concurrency - this.inflight.size : 0;
  }

  /**
   * The loop: ack what finished and lease what fits. Up to {@link MAX_CALLS}
   * calls are in flight at once, each leasing at most half the slots, so
   * handlers run while the next batch travels.
   */
  private pump(): void {
    if (this.state === 'closed') return;
    if (Date.now() < this.retryAt) {
      this.schedulePumpAt(this.retryAt);
      return;
    }
    while (this.calls < MAX_CALLS) {
      const acks = this.acks.splice(0, MAX_ACKS_PER_CALL);
      const room = this.free() - this.reserved;
      const want = acks.length > 0 || !this.starved ? Math.min(room, this.batchMax) : 0;
      if (acks.length === 0 && want <= 0) break;
      this.calls++;
      this.reserved += want;
      this.call(acks, want).then(
        (lease) => {
          this.calls--;
          this.reserved -= want;
          this.errorStreak = 0;
          const got = this.startAll(lease);
          if (want > 0) this.starved = got < want;
          this.afterCall();
        },
        (err: unknown) => {
          this.calls--;
          this.reserved -= want;
          this.acks.unshift(...acks);
          if (this.state !== 'closed') {
            this.emitError(err as Error);
            this.retryAt = Date.now() + Math.min(5000, 50 * 2 ** this.errorStreak++);
          }
          this.afterCall();
        },
      );
    }
  }

  private afterCall(): void {
    if (this.acks.length > 0 || (!this.starved && this.free() - this.reserved > 0)) this.schedulePump();
    else if (this.starved && this.calls === 0 && this.free() > 0) void this.block();
    if (this.calls === 0) for (const w of this.idleCalls.splice(0)) w();
    this.notifyIdle();
  }

  /** Resolves close()'s wait once nothing runs and no call is in flight. */
  private notifyIdle(): void {
    if (this.inflight.size === 0 && this.calls === 0) for (const w of this.waiters.splice(0)) w();
  }

  private schedulePumpAt(at: number): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedulePump();
    }, Math.max(0, at - Date.now()));
  }

  private async call(acks: typeof this.acks, want: number): Promise<unknown[]> {
    const o = this.opts;
    if (acks.length === 0) {
      return (await this.scripts.run(this.conn.redis, 'lease', [want, o.leaseMs, Math.random(), o.maxErrors])) as unknown[];
    }
    const args: (string | number | Buffer)[] = [want, o.leaseMs, Math.random(), o.maxErrors, o.keepCount, o.keepAgeMs, acks.length];
    for (const a of acks) args.push(a.entry.id, a.entry.token, a.encoded);
    const [codes, lease] = (await this.scripts.run(this.conn.redis, 'ack', args)) as [number[], unknown[]];
    const listening = this.listenerCount('completed') > 0;
    codes.forEach((code, i) => {
      const a = acks[i]!;
      if (code === ResultCode.OK || code === ResultCode.DONE_ALREADY) {
        if (listening) this.emit('completed', a.job, a.result);
      } else this.emitError(new LeaseLostError(a.entry.id, 'ack'));
    });
    return lease;
  }

  /** Starts every job of a lease reply; returns how many were leased. */
  private startAll(reply: unknown[]): number {
    this.nextInMs = Number(reply[0]);
    this.armDueTimer();
    let n = 0;
    const late: InFlight<T>[] = [];
    for (let i = 1; i + 3 < reply.length; i += 4) {
      const id = String(reply[i]);
      const token = String(reply[i + 1]);
      const attempt = Number(reply[i + 2]);
      if (this.state === 'running') this.start(id, token, attempt, reply[i + 3] as Buffer);
      else late.push({ id, token, attempt, controller: undefined, released: false, record: undefined });
      n++;
    }
    // a lease call that was in flight when close() began: hand those jobs straight back
    if (late.length > 0) this.settler.track(this.settler.releaseAll(late));
    return n;
  }

  /**
   * Redis checks blocking timeouts only a few times a second (its `hz`), so a
   * BLPOP timeout alone would run delayed jobs up to 100 ms late. A local timer
   * leases at the moment the next delayed job is due or the next lease expires.
   */
  private armDueTimer(): void {
    clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    if (this.nextInMs <= 0 || this.nextInMs > this.opts.maxIdleMs || this.state !== 'running') return;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      this.wakeUp();
    }, this.nextInMs);
    this.dueTimer.unref();
  }

  private start(id: string, token: string, attempt: number, raw: Buffer): void {
    // A handler that does not declare the signal parameter cannot read it: skip the AbortController.
    const controller = this.wantsSignal ? new AbortController() : undefined;
    const entry: InFlight<T> = { id, token, attempt, controller, released: false, record: undefined };
    this.inflight.set(token, entry);
    let job: Job<T>;
    let record: JobRecord;
    try {
      record = decodeRecord(raw);
      job = { id, data: decode(record.payload, 'job payload') as T, attempt, attempts: record.attempts, createdAt: record.createdAt };
    } catch (err) {
      // retrying cannot make bytes decodable: straight to the dead-letter queue
      void this.settler.fail(entry, { id, data: undefined, attempt, attempts: attempt, createdAt: 0 }, err, true);
      return;
    }
    entry.record = record;
    runHandler(
      this.handler,
      job,
      controller,
      record.timeoutMs || this.opts.timeoutMs,
      (result) => this.settler.succeed(entry, job, result),
      (err) => void this.settler.fail(entry, job, err, false),
    );
  }

  /** Blocks on the wake list until a job may be ready (a wake-up, a due time, or `maxIdleMs`). */
  private async block(): Promise<void> {
    if (this.blocking || this.state !== 'running') return;
    this.blocking = true;
    try {
      await this.blocker.blpop(this.keys.wake, this.opts.maxIdleMs / 1000);
    } catch (err) {
      if (this.state === 'running') {
        this.emitError(err as Error);
        await sleep(100);
      }
    } finally {
      this.blocking = false;
    }
    this.wakeUp();
  }

  private async shutdown(graceMs: number): Promise<void> {
    if (this.state === 'new') this.state = 'closing';
    if (this.state === 'running') this.state = 'closing';
    this.blocker.disconnect();
    clearTimeout(this.dueTimer);
    // let running jobs finish (jobs that calls in flight still bring are released as they land)
    if (this.inflight.size > 0) await withTimeout(new Promise<void>((r) => this.waiters.push(r)), graceMs);
    // with Redis unreachable nothing can be sent: leases left behind expire and are reclaimed
    const budget = this.conn.redis.status === 'ready' ? 5000 : 1000;
    await withTimeout(this.settler.releaseAll([...this.inflight.values()]), budget);
    await withTimeout(this.drain(), budget);
    this.heartbeat.stop();
    clearTimeout(this.retryTimer);
    this.state = 'closed';
    if (this.conn.redis.status === 'ready') await withTimeout(release(this.conn), 2000);
    if (this.conn.owned) this.conn.redis.disconnect();
  }

  /** Waits until every queued ack and pending failure has been sent. */
  private async drain(): Promise<void> {
    for (;;) {
      await this.settler.settled();
      if (this.state === 'closed' || (this.acks.length === 0 && this.calls === 0)) return;
      if (this.calls === 0) this.pump();
      if (this.calls > 0) await new Promise<void>((r) => this.idleCalls.push(r));
      else await sleep(Math.max(10, this.retryAt - Date.now())); // backing off after an error
    }
  }
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
