import { EventEmitter } from 'node:events';
import {
  DEFAULT_PREFIX,
  ListenerError,
  Listeners,
  ScheduleFirer,
  Scripts,
  checkInt,
  checkKnownKeys,
  checkObject,
  connect,
  duplicate,
  log,
  queueKeys,
  release,
  setLongTimeout,
  type ConnectionOption,
  type LongTimer,
  type OwnedConnection,
  type RedisConnection,
} from '@kyoo/core';

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  /** Redis URL, ioredis options or instance, or a Redis Cluster; a second connection is opened for blocking waits. */
  connection?: ConnectionOption;
  /** Key prefix; must match the queue's. @defaultValue `'kyoo'` */
  prefix?: string;
  /** Longest wait between looks at the schedules (a safety net: wake-ups and timers do the real work). @defaultValue `300000` */
  maxIdleMs?: number;
}

/** How long close() waits for a firing in flight. */
const CLOSE_WAIT_MS = 2000;

/** Events a {@link Scheduler} emits. */
export interface SchedulerEvents {
  /** A firing made `jobs` jobs. */
  fired: [jobs: number];
  /** A Redis error (retried with backoff), or a schedule that could not fire (`ScheduleError`). The scheduler carries on. */
  error: [error: Error];
}

/**
 * Fires a queue's schedules without running its jobs, for deployments where
 * producers own the schedules. Workers of the queue fire schedules as part of
 * their lease loop, so a deployment with workers needs no scheduler; running
 * both (or several of each) is safe: each occurrence makes exactly one job.
 * Between occurrences it waits on a timer and on a wake-up list that
 * upserts and resumes push to, sending no command.
 *
 * @example
 * const scheduler = new Scheduler('reports', { connection: 'redis://127.0.0.1:6379' })
 * process.on('SIGTERM', () => scheduler.close())
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  readonly name: string;
  private readonly conn: OwnedConnection;
  private readonly blocker: RedisConnection;
  private readonly firer: ScheduleFirer;
  private readonly wakeKey: string;
  private readonly maxIdleMs: number;
  private closed = false;
  private blocking: Promise<unknown> | undefined;
  private timer: LongTimer | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly done: Promise<void>;
  private readonly listeners_ = new Listeners(this);

  constructor(queue: string, options: SchedulerOptions = {}) {
    super();
    const o = checkObject<SchedulerOptions>('options', options);
    checkKnownKeys('options', o, ['connection', 'prefix', 'maxIdleMs']);
    const keys = queueKeys(o.prefix ?? DEFAULT_PREFIX, queue);
    this.name = queue;
    this.maxIdleMs = checkInt('maxIdleMs', o.maxIdleMs ?? 300_000, 10, 24 * 3600 * 1000);
    this.wakeKey = keys.schedule_wake;
    this.conn = connect(o.connection, { maxRetriesPerRequest: null });
    this.blocker = duplicate(this.conn.redis, { maxRetriesPerRequest: null });
    for (const r of [this.conn.redis, this.blocker]) r.on('error', (err: Error) => log.schedules('%s: redis: %s', queue, err.message));
    this.firer = new ScheduleFirer(this.conn.redis, new Scripts(keys), (err) => this.report(err));
    this.done = this.loop();
  }

  /** Stops firing and closes the connections it opened. Idempotent; resolves even when Redis is down. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.blocker.disconnect();
      this.timer?.clear();
      this.wakeUp?.();
    }
    // a firing in flight waits for Redis (commands are retried until it answers): wait a little, not forever
    let timer: LongTimer | undefined;
    await Promise.race([this.done, new Promise<void>((r) => (timer = setLongTimeout(r, CLOSE_WAIT_MS)))]);
    timer?.clear();
    if (this.conn.redis.status === 'ready') await release(this.conn).catch(() => undefined);
    if (this.conn.owned) this.conn.redis.disconnect();
  }

  private async loop(): Promise<void> {
    let streak = 0;
    while (!this.closed) {
      let waitMs: number;
      try {
        const r = await this.firer.fire();
        streak = 0;
        if (r.fired > 0) this.emitSafe('fired', r.fired);
        waitMs = r.nextInMs === 0 ? this.maxIdleMs : Math.min(r.nextInMs, this.maxIdleMs);
      } catch (err) {
        if (this.closed) break;
        this.report(err as Error);
        waitMs = Math.min(5000, 50 * 2 ** streak++);
      }
      await this.sleep(waitMs);
    }
  }

  /** Waits `ms`, or less when a wake-up token arrives (an upsert or resume moved a schedule). */
  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.timer?.clear();
        this.wakeUp = undefined;
        resolve();
      };
      this.wakeUp = wake;
      this.timer = setLongTimeout(wake, ms);
      this.blocking ??= this.blocker
        .blpop(this.wakeKey, this.maxIdleMs / 1000)
        .then(
          (got) => got !== null && this.wakeUp?.(),
          async (err: unknown) => {
            if (this.closed) return;
            this.report(err as Error);
            await new Promise((r) => setTimeout(r, 100));
          },
        )
        .finally(() => (this.blocking = undefined));
    });
  }

  private report(err: Error): void {
    log.schedules('%s: %s', this.name, err.message);
    if (this.listenerCount('error') > 0) this.emitSafe('error', err);
  }

  /** Calls listeners each on its own: one that throws (or rejects) is logged, and the scheduler carries on. */
  private emitSafe<E extends keyof SchedulerEvents>(event: E, ...args: SchedulerEvents[E]): void {
    this.listeners_.call(event, args, (thrown) => log.schedules('%s: %s', this.name, new ListenerError(event, thrown).message));
  }
}
