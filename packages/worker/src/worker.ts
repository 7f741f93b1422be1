import { EventEmitter } from 'node:events';
import {
  InvalidOptionError,
  LeaseLostError,
  ListenerError,
  Listeners,
  MAX_DURATION_MS,
  RECORD_VERSION,
  RecordVersionError,
  ResultCode,
  ScheduleFirer,
  Scripts,
  checkInt,
  connect,
  decodeData,
  decodeRecord,
  duplicate,
  encodeData,
  log,
  queueKeys,
  release,
  whenReady,
  setLongTimeout,
  type DecodedRecord,
  type LeasedJob,
  type LongTimer,
  type OwnedConnection,
  type RedisConnection,
} from '@kyoo/core';
import type { Handler, Job } from './job.js';
import { Heartbeat } from './heartbeat.js';
import { LeaseLoop } from './lease-loop.js';
import { ScheduleTicker } from './schedule-ticker.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.js';
import { LeaseRegistry, type InFlight } from './registry.js';
import { ProgressReporter, RunningJob } from './progress.js';
import { WorkerMetrics } from './worker-metrics.js';
import { runHandler } from './run-handler.js';
import { Settler } from './settle.js';
import { ProcessTracing, otel } from './tracing.js';

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
  /** A running job was cancelled (`queue.cancel`): its signal aborted, its outcome is not recorded. */
  cancelled: [job: Job<T>];
  /**
   * The handler threw `BackOffError`: the job went back without using an
   * attempt, and no job of the queue (or of its group) starts for `delayMs`.
   */
  backedOff: [job: Job<T>, delayMs: number, scope: 'queue' | 'group'];
  /**
   * A problem of the worker's own: Redis errors (retried), lost leases
   * (`LeaseLostError`), a listener of yours that threw (`ListenerError`), a
   * record too new for this worker (`RecordVersionError`). The worker carries on after each.
   */
  error: [error: Error];
}

/** How long a record too new for this worker waits before it is offered again (for a newer worker). */
const NEWER_RECORD_DELAY_MS = 5000;

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
 * worker.on('dead', (job, err) => alerts.send(`job ${job.id} dead: ${err.message}`))
 * process.on('SIGTERM', () => worker.close())
 */
export class Worker<T = unknown, R = unknown> extends EventEmitter<WorkerEvents<T, R>> {
  /** The queue's name. */
  readonly name: string;
  private readonly opts: ResolvedWorkerOptions;
  private readonly conn: OwnedConnection;
  /** The second connection, for blocking waits on the wake list. */
  private readonly blocker: RedisConnection;
  /** Aborted by close(): ready() waits no longer. */
  private readonly closedSignal = new AbortController();
  private readonly handler: Handler<T, R>;
  private readonly wantsSignal: boolean;
  private readonly registry = new LeaseRegistry();
  private readonly loop: LeaseLoop;
  private readonly settler: Settler;
  private readonly heartbeat: Heartbeat;
  private readonly ticker: ScheduleTicker;
  private readonly reporter: ProgressReporter;
  private readonly metrics: WorkerMetrics;
  private closing: Promise<void> | undefined;
  private readonly listeners_ = new Listeners(this);
  private readonly tracing: ProcessTracing;
  /** Jobs leased ahead, in lease order, until a slot frees (see LeaseLoop). */
  private readonly waiting: { leased: LeasedJob; entry: InFlight }[] = [];

  constructor(name: string, handler: Handler<T, R>, options: WorkerOptions = {}) {
    super();
    this.opts = resolveWorkerOptions(options);
    const keys = queueKeys(this.opts.prefix, name);
    this.name = name;
    if (typeof handler !== 'function') throw new InvalidOptionError('handler', 'expected a function (job, signal) => result');
    this.handler = handler;
    this.wantsSignal = handler.length >= 2;
    this.tracing = new ProcessTracing(name, this.opts.tracing.producer);
    void otel.load();
    this.conn = connect(this.opts.connection, { maxRetriesPerRequest: null });
    const redis = this.conn.redis;
    const blocker = duplicate(redis, { maxRetriesPerRequest: null });
    this.blocker = blocker;
    for (const r of [redis, blocker]) r.on('error', (err: Error) => log.worker('%s: redis: %s', name, err.message));
    const scripts = new Scripts(keys);
    const error = (err: Error): void => this.emitError(err);
    this.ticker = new ScheduleTicker(new ScheduleFirer(redis, scripts, error), error);
    this.metrics = new WorkerMetrics(this.opts.metricsFlushMs, (args) => scripts.call(redis, 'metricsFlush', args), error);
    // an idle worker calls at least every maxIdleMs: past that (and a lease, and a margin) its slots are not counted
    const slotsTtl = this.opts.maxIdleMs + this.opts.leaseMs + 30_000;
    // this worker's own wake list, watched beside the queue's: close() pushes to it to end a blocking wait
    const ownWake = `${keys.wake}:${this.metrics.id}`;
    this.loop = new LeaseLoop({
      registry: this.registry,
      blocker,
      wakeKey: keys.wake,
      ownWakeKey: ownWake,
      concurrency: this.opts.concurrency,
      leaseMs: this.opts.leaseMs,
      maxIdleMs: this.opts.maxIdleMs,
      workerId: this.metrics.id,
      slots: () => `${this.metrics.id},${this.registry.running},${this.opts.concurrency},${slotsTtl}`,
      lease: (args) => scripts.call(redis, 'lease', args),
      leaseBlocked: (args) => scripts.call(blocker, 'lease', args),
      // the key expires, in case this process dies before it takes the push back
      unblock: () => redis.multi().rpush(ownWake, '1').pexpire(ownWake, 60_000).exec(),
      forgetUnblock: () => redis.lpop(ownWake),
      ack: (args) => scripts.call(redis, 'ack', args),
      start: (job) => this.start(job),
      late: (jobs) => this.settler.track(this.settler.release(jobs.map((j) => this.entryOf(j)))),
      acked: (item, code) => {
        const job = item.entry.job as Job<T>;
        if (code === ResultCode.OK || code === ResultCode.DONE_ALREADY) this.notify('completed', job, item.value as R);
        else if (code === ResultCode.CANCELLED) this.notify('cancelled', job);
        else this.emitError(new LeaseLostError(item.entry.id, 'ack'));
      },
      passWake: () => void scripts.call(redis, 'passWake', {}).catch(error),
      scheduleIn: (ms) => this.ticker.seen(ms),
      error,
    });
    this.settler = new Settler({
      registry: this.registry,
      backoff: this.opts.backoff,
      events: {
        failed: (job, err) => this.notify('failed', job as Job<T>, err),
        retried: (job, err, delayMs) => this.notify('retried', job as Job<T>, err, delayMs),
        dead: (job, err) => this.notify('dead', job as Job<T | undefined>, err),
        cancelled: (job) => this.notify('cancelled', job as Job<T>),
        backedOff: (job, delayMs, scope) => this.notify('backedOff', job as Job<T>, delayMs, scope),
      },
      fail: (args) => scripts.call(redis, 'fail', args),
      release: (args) => scripts.call(redis, 'release', args),
      backOff: (args) => scripts.call(redis, 'backoff', args),
      error,
      running: () => this.isRunning(),
      slotFreed: () => {
        this.startWaiting();
        this.loop.schedule();
      },
    });
    this.reporter = new ProgressReporter(this.registry, (args) => scripts.call(redis, 'progress', args));
    this.heartbeat = new Heartbeat({
      registry: this.registry,
      heartbeatMs: this.opts.heartbeatMs,
      extend: (leases) => scripts.call(redis, 'extend', { leaseMs: this.opts.leaseMs, leases }),
      gone: (entry, code) => {
        if (entry.waiting) {
          // leased ahead, never started: forget it (cancelled, or its lease is gone)
          entry.released = true;
          this.registry.delete(entry);
          const leased = this.dropWaiting(entry);
          if (code !== ResultCode.CANCELLED) this.emitError(new LeaseLostError(entry.id, 'extend'));
          else if (leased) {
            try {
              this.notify('cancelled', this.jobOf(decodeRecord(leased.record), entry));
            } catch {
              log.worker('%s: job %s was cancelled before it started', this.name, entry.id); // its record does not decode
            }
          }
          this.loop.schedule();
          return;
        }
        this.settler.gone(entry, code, entry.job as Job<unknown> | undefined);
      },
      error,
    });
    // after a reconnect, look at the queue again instead of trusting a wake-up that may be gone
    redis.on('ready', () => this.loop.wake());
    if (this.opts.autostart) this.run();
  }

  /**
   * This worker's id: random per Worker, in the queue's `workers` list and in
   * every lease token it holds (`getJob(id).lease.worker`).
   * @example
   * log.info('worker %s started', worker.id)
   */
  get id(): string {
    return this.metrics.id;
  }

  /**
   * Resolves once both of the worker's connections (commands, and blocking
   * waits) are ready (at once when they are): a start-up or a benchmark can
   * wait for Redis instead of sleeping. Rejects with
   * {@link ConnectionClosedError} when the worker is closed first.
   * @example
   * const worker = new Worker('thumbnails', handler, { autostart: false })
   * await worker.ready()
   * worker.run()
   */
  ready(): Promise<void> {
    return whenReady([this.conn.redis, this.blocker], this.closedSignal.signal, `worker of ${this.name}`);
  }

  /** Starts leasing (called by the constructor unless `autostart: false`). */
  run(): void {
    if (this.loop.state !== 'new') return;
    this.loop.start();
    this.heartbeat.start();
  }

  /** Whether the worker is leasing (not yet closing). */
  isRunning(): boolean {
    return this.loop.state === 'running';
  }

  /**
   * Stops leasing, lets running jobs finish for up to `graceMs`, then aborts
   * the rest (their signals fire) and releases their leases so another
   * worker takes them at once. Always resolves, even when Redis is down;
   * rejects with {@link InvalidOptionError} (and closes nothing) when
   * `graceMs` is not an integer from 0 to about 10 years.
   */
  close(graceMs: number = this.opts.closeGraceMs): Promise<void> {
    try {
      checkInt('graceMs', graceMs, 0, MAX_DURATION_MS);
    } catch (err) {
      return Promise.reject(err); // nothing stops: the worker goes on as it was
    }
    this.closedSignal.abort();
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private emitError(err: Error): void {
    log.worker('%s: %s', this.name, err.message);
    // an 'error' listener that throws has nowhere else to go: it is logged
    this.listeners_.call('error', [err], (thrown) => log.worker('%s: %s', this.name, new ListenerError('error', thrown).message));
  }

  /** Emits a job event: each listener on its own; one that throws (or rejects) becomes an 'error' event. */
  private notify<E extends 'completed' | 'failed' | 'retried' | 'dead' | 'cancelled' | 'backedOff'>(event: E, ...args: WorkerEvents<T, R>[E]): void {
    if (this.listenerCount(event) === 0) return;
    this.listeners_.call(event, args, (thrown) => this.emitError(new ListenerError(event, thrown)));
  }

  private entryOf(job: LeasedJob): InFlight {
    return { id: job.id, token: job.token, attempt: job.attempt, controller: undefined, released: false, record: undefined };
  }

  /** A leased job: it starts now when a slot is free, else it waits in {@link waiting} (leased ahead). */
  private start(leased: LeasedJob): void {
    if (this.registry.running >= this.opts.concurrency) {
      const entry: InFlight = { ...this.entryOf(leased), waiting: true };
      this.registry.add(entry);
      this.waiting.push({ leased, entry });
      return;
    }
    this.begin(leased, undefined);
  }

  /** Starts jobs leased ahead while slots are free (a closing worker releases them instead). */
  private startWaiting(): void {
    while (this.waiting.length > 0 && this.registry.running < this.opts.concurrency && this.isRunning()) {
      const { leased, entry } = this.waiting.shift()!;
      if (!this.registry.holds(entry) || entry.released) continue;
      this.registry.started(entry);
      this.begin(leased, entry);
    }
  }

  private dropWaiting(entry: InFlight): LeasedJob | undefined {
    const i = this.waiting.findIndex((w) => w.entry === entry);
    return i >= 0 ? this.waiting.splice(i, 1)[0]!.leased : undefined;
  }

  /** The job as its handler sees it; throws when its payload does not decode. */
  private jobOf(record: DecodedRecord, entry: InFlight): Job<T> {
    const schedule = record.schedule ? { id: record.schedule, occurrence: record.occurrence } : undefined;
    const trace = record.traceparent ? { traceparent: record.traceparent, ...(record.tracestate ? { tracestate: record.tracestate } : {}) } : undefined;
    return new RunningJob(entry.id, decodeData(record.payload, 'job payload') as T, entry.attempt, record.attempts, record.createdAt, record.priority, schedule, trace, entry, this.reporter);
  }

  private begin(leased: LeasedJob, held: InFlight | undefined): void {
    const { id, token, attempt } = leased;
    // A handler that does not declare the signal parameter cannot read it: skip the AbortController.
    const controller = this.wantsSignal ? new AbortController() : undefined;
    const entry: InFlight = held ?? { id, token, attempt, controller, released: false, record: undefined };
    entry.controller = controller;
    if (!held) this.registry.add(entry);
    let job: Job<T>;
    let record: DecodedRecord;
    try {
      record = decodeRecord(leased.record);
      if (record.version > RECORD_VERSION) {
        // written by a newer kyoo: leave it as it is for a newer worker, without using an attempt
        this.emitError(new RecordVersionError(id, record.version, RECORD_VERSION));
        this.settler.track(this.settler.release([entry], NEWER_RECORD_DELAY_MS).finally(() => this.registry.delete(entry)));
        return;
      }
      job = this.jobOf(record, entry);
    } catch (err) {
      // retrying cannot make bytes decodable: straight to the dead-letter queue
      void this.settler.fail(entry, new RunningJob(id, undefined, attempt, attempt, 0, 0, undefined, undefined, entry, this.reporter), err, true);
      return;
    }
    entry.record = record;
    entry.job = job;
    // from when it became runnable (Redis clock; for a job ready from its add, the producer's clock at add)
    this.metrics.waited(leased.leasedAt - (leased.runnableAt || record.createdAt));
    const timeoutMs = record.timeoutMs || this.opts.timeoutMs;
    // the first jobs may come before the first look for @opentelemetry/api has settled: they run once it has
    if (otel.api === undefined) void otel.load().then(() => this.runJob(entry, job, controller, timeoutMs));
    else this.runJob(entry, job, controller, timeoutMs);
  }

  /** Runs the handler for one leased job, in a `process <queue>` span where tracing is on. */
  private runJob(entry: InFlight, job: Job<T>, controller: AbortController | undefined, timeoutMs: number): void {
    const run = otel.api ? this.tracing.start(otel.api, job, this.handler) : undefined;
    const t0 = performance.now();
    runHandler(
      run?.handler ?? this.handler,
      job,
      controller,
      timeoutMs,
      (result) => {
        this.ran(performance.now() - t0);
        run?.ended();
        this.succeeded(entry, job, result);
      },
      (err) => {
        this.ran(performance.now() - t0);
        run?.failed(err);
        void this.settler.fail(entry, job, err, false);
      },
    );
  }

  /** A handler ran for `ms`: the histogram, and the lease loop's average (for leasing ahead). */
  private ran(ms: number): void {
    this.metrics.ran(ms);
    this.loop.ran(ms);
  }

  private succeeded(entry: InFlight, job: Job<T>, result: R): void {
    this.registry.delete(entry);
    this.startWaiting();
    if (entry.released) {
      this.loop.schedule();
      return;
    }
    let kept: Buffer | '' = '';
    if (this.loop.keepResults && result !== undefined) {
      try {
        kept = encodeData('result', result);
      } catch (err) {
        // the job still completes; its result is not kept rather than kept changed
        const why = (err as Error).message.replace(/^invalid result: /, '');
        this.emitError(new InvalidOptionError('result', `job ${job.id} completed, but its result was not kept: ${why}`));
      }
    }
    const dedup = entry.record?.dedupMode === 1 ? entry.record.dedupKey : '';
    this.loop.ack({ id: entry.id, token: entry.token, dedup, entry, result: kept, value: result });
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.loop.stopLeasing();
    this.ticker.stop();
    // jobs leased ahead have not started: straight back, for another worker
    const ahead = this.waiting.splice(0).map((w) => w.entry).filter((e) => this.registry.holds(e));
    if (ahead.length > 0) this.settler.track(this.settler.release(ahead).finally(() => ahead.forEach((e) => this.registry.delete(e))));
    // let running jobs finish (jobs that calls in flight still bring are released as they land)
    await withTimeout(this.registry.whenEmpty(), graceMs);
    // with Redis unreachable nothing can be sent: leases left behind expire and are reclaimed
    const budget = this.conn.redis.status === 'ready' ? 5000 : 1000;
    await withTimeout(this.settler.release(this.registry.all()), budget);
    await withTimeout(this.loop.drain(() => this.settler.settled()), budget);
    this.heartbeat.stop();
    await withTimeout(this.metrics.close(), budget);
    this.loop.close();
    if (this.conn.redis.status === 'ready') await withTimeout(release(this.conn), 2000);
    if (this.conn.owned) this.conn.redis.disconnect();
  }
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: LongTimer | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setLongTimeout(r, ms)))]);
  timer?.clear();
}
