import {
  ConnectionClosedError,
  DEFAULT_PREFIX,
  InvalidOptionError,
  JOB_DEFAULTS,
  MAX_DURATION_MS,
  POLICY_META_FIELDS,
  ResultCode,
  Scripts,
  checkId,
  checkInt,
  checkKnownKeys,
  checkObject,
  connect,
  log,
  queueKeys,
  policyFields,
  readPolicy,
  release,
  whenReady,
  type ConnectionOption,
  type QueuePolicy,
  type ResolvedQueuePolicy,
  type OwnedConnection,
  type QueueKeys,
  type RedisConnection,
  type TraceContext,
} from '@kyoo/core';
import { AddBatcher } from './add-batcher.js';
import { execValues } from './exec.js';
import { resolveDurability, type DurabilityOptions } from './durability.js';
import { DeadLetters } from './dead-letters.js';
import { Groups } from './groups.js';
import { Jobs } from './jobs.js';
import { readWorkers, type WorkerInfo } from './workers.js';
import { readJob, type JobInfo } from './job-info.js';
import { Schedules } from './schedules.js';
import { checkStatsOptions, readStats, type QueueStats, type StatsOptions } from './stats.js';
import { readEvents, resolveEventsOptions, type EventsOptions, type QueueEvent } from './events.js';
import { ResultWaiter, type ResultOptions } from './results.js';
import { readMetrics, type QueueMetrics } from './metrics.js';
import { prepareJob, resolveDefaults, type DedupOptions, type JobOptions, type PreparedJob, type ResolvedDefaults } from './job-options.js';
import { SendTracing, endSendFailed, endSent, otel } from './tracing.js';

/** Options of a {@link Queue}. */
export interface QueueOptions {
  /** Redis URL, ioredis options or ioredis instance; for a Redis Cluster, see {@link ConnectionOption}. @defaultValue `redis://127.0.0.1:6379` */
  connection?: ConnectionOption;
  /** Key prefix; every key is `<prefix>:{<queue>}:…`. @defaultValue `'kyoo'` */
  prefix?: string;
  /** Defaults for every job added through this queue. */
  defaultJobOptions?: Pick<JobOptions, 'attempts' | 'backoff' | 'timeoutMs'>;
  /** Largest encoded payload accepted by `add()`. @defaultValue `524288` (512 KiB) */
  maxPayloadBytes?: number;
  /**
   * Resolve `add()` only once the write is on replicas (`WAIT`) or fsynced
   * (`WAITAOF`). Off by default. A write that is not confirmed in time
   * rejects with {@link DurabilityError} (the job was added).
   */
  durability?: DurabilityOptions;
}

/** How many jobs are in each state. */
export interface QueueCounts {
  /** Waiting to run now (with or without a priority or a group). */
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
  /** Completed jobs still kept by the policy (0 when they are removed, the default). */
  completed: number;
  /** Cancelled jobs still kept by the policy. */
  cancelled: number;
  paused: boolean;
}

/** What an add with {@link JobOptions.dedup} did. */
export interface AddResult {
  /** The new job's id, or the id of the job that holds the dedup key. */
  id: string;
  /** True when no new job was made: a job holds the key (debounce: its data and run-at were replaced). */
  deduplicated: boolean;
}

/** What {@link Queue.cancel} found. */
export type CancelOutcome =
  /** It was waiting or delayed, and will not run. */
  | 'cancelled'
  /** It was running: it ends as cancelled, and its handler's signal fires at its worker's next heartbeat. */
  | 'cancelling'
  /** It had completed, died or been cancelled already: nothing changed. */
  | 'finished'
  /** No such job. */
  | 'not-found';

/** One job for {@link Queue.addBulk}. */
export interface BulkJob<T> {
  data: T;
  opts?: JobOptions;
}

/**
 * The producer side of a queue: add jobs, inspect them, pause and resume,
 * and administer the dead-letter queue.
 *
 * @example
 * const queue = new Queue<{ imageUrl: string }>('images', { connection: 'redis://127.0.0.1:6379' })
 * const id = await queue.add({ imageUrl: 'https://example.com/cat.png' }, { attempts: 5 })
 * const job = await queue.getJob(id) // { id, state: 'ready', data, attemptsMade: 0, ... }
 * await queue.close()
 */
export class Queue<T = unknown> {
  /** The queue's name. */
  readonly name: string;
  /** The queue's Redis keys (see the README's "Under the hood"). */
  readonly keys: QueueKeys;
  /** The dead-letter queue: list, get, replay, purge. */
  readonly dead: DeadLetters;
  /** The queue's schedules (cron or interval): upsert, get, list, pause, resume, remove. */
  readonly schedules: Schedules<T>;
  /** The queue's groups (jobs added with a `group`): their own limits, what waits and runs in each. */
  readonly groups: Groups;
  /** The queue's jobs by state: counts, pages, bounded searches, run delayed jobs now. */
  readonly jobs: Jobs;

  private readonly conn: OwnedConnection;
  private readonly scripts: Scripts;
  private readonly batcher: AddBatcher;
  private readonly defaults: ResolvedDefaults;
  private readonly maxPayloadBytes: number;
  private closed = false;
  /** Aborted by close(): ready() waits no longer. */
  private readonly closedSignal = new AbortController();
  private readonly results: ResultWaiter;
  private readonly tracing: SendTracing;
  /** Adds waiting for the first look for `@opentelemetry/api` (later adds wait behind them, keeping their order). */
  private waitingForOtel = 0;

  constructor(name: string, options: QueueOptions = {}) {
    const o = checkObject<QueueOptions>('options', options);
    checkKnownKeys('options', o, ['connection', 'prefix', 'defaultJobOptions', 'maxPayloadBytes', 'durability']);
    this.keys = queueKeys(o.prefix ?? DEFAULT_PREFIX, name);
    this.name = name;
    this.defaults = resolveDefaults(o.defaultJobOptions);
    this.maxPayloadBytes = checkInt('maxPayloadBytes', o.maxPayloadBytes ?? JOB_DEFAULTS.maxPayloadBytes, 1, 512 * 1024 * 1024);
    const durability = resolveDurability(o.durability);
    this.conn = connect(o.connection);
    this.conn.redis.on('error', (err: Error) => log.client('%s: redis error: %s', name, err.message));
    this.scripts = new Scripts(this.keys);
    this.batcher = new AddBatcher(this.conn, this.scripts, durability, this.keys.ids, name);
    this.dead = new DeadLetters(() => this.redis(), this.keys, this.scripts, name);
    const queue = { name, prefix: o.prefix ?? DEFAULT_PREFIX, defaults: this.defaults, maxPayloadBytes: this.maxPayloadBytes };
    this.schedules = new Schedules<T>(() => this.redis(), this.keys, this.scripts, queue);
    this.groups = new Groups(() => this.redis(), this.keys, this.scripts);
    this.jobs = new Jobs(() => this.redis(), this.keys, this.scripts);
    this.results = new ResultWaiter(() => this.redis(), this.keys);
    this.tracing = new SendTracing(name);
    void otel.load();
  }

  /**
   * Adds one job and resolves with its id once Redis has it. An add made
   * while no other is on its way goes out at once; adds made while one is
   * travel to Redis together, one call per tick. Invalid options and oversized
   * payloads reject before anything is written; a full queue (the policy's
   * `maxWaiting`) rejects with {@link QueueFullError}. With `dedup`, resolves
   * with `{ id, deduplicated }`. Where `@opentelemetry/api` is installed, each
   * add is a `send <queue>` span whose trace context the job carries (see
   * the README's "Tracing").
   */
  add(data: T, opts: JobOptions & { dedup: DedupOptions }): Promise<AddResult>;
  add(data: T, opts?: JobOptions): Promise<string>;
  async add(data: T, opts?: JobOptions): Promise<string | AddResult> {
    this.redis();
    if (otel.api === undefined || this.waitingForOtel > 0) {
      // only until the first look for @opentelemetry/api settles (once per process)
      this.waitingForOtel++;
      await otel.load();
      this.waitingForOtel--;
    }
    const send = otel.api ? this.tracing.start(otel.api) : undefined;
    let outcome;
    try {
      outcome = await this.batcher.add(prepareJob(data, opts, this.defaults, this.maxPayloadBytes, send?.trace));
    } catch (err) {
      if (send) endSendFailed(send, err);
      throw err;
    }
    if (send) endSent(send, outcome.id);
    if (opts?.dedup === undefined) return outcome.id;
    return { id: outcome.id, deduplicated: outcome.code === ResultCode.DEDUPLICATED };
  }

  /**
   * Adds many jobs in as few calls as possible (1,000 per call). Every job
   * is validated first: one invalid job rejects the whole call and nothing is
   * written. A full queue (the policy's `maxWaiting`) rejects with
   * {@link QueueFullError} and writes none of them (past 1,000 jobs, the room
   * for all is checked with the first call; a concurrent producer can still
   * fill the queue before a later call, which then writes nothing of its
   * part). Resolves with the ids in order (for a deduplicated job, the holder's).
   * Where `@opentelemetry/api` is installed, the call is one `send <queue>`
   * span whose trace context every job of it carries.
   */
  async addBulk(jobs: readonly BulkJob<T>[]): Promise<string[]> {
    this.redis();
    if (!Array.isArray(jobs)) throw new InvalidOptionError('jobs', 'expected an array of { data, opts }');
    if (otel.api === undefined) await otel.load();
    const send = otel.api && jobs.length > 0 ? this.tracing.start(otel.api, jobs.length) : undefined;
    let ids;
    try {
      ids = await this.batcher.send(this.prepareBulk(jobs, send?.trace));
    } catch (err) {
      if (send) endSendFailed(send, err);
      throw err;
    }
    if (send) endSent(send);
    return ids;
  }

  private prepareBulk(jobs: readonly BulkJob<T>[], trace: TraceContext | undefined): PreparedJob[] {
    const prepared: PreparedJob[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const j: unknown = jobs[i]; // a plain loop, so that holes in a sparse array are seen
      if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new InvalidOptionError(`jobs[${i}]`, 'expected { data, opts }');
      checkKnownKeys(`jobs[${i}]`, j, ['data', 'opts']);
      const { data, opts } = j as BulkJob<T>;
      try {
        prepared.push(prepareJob(data, opts, this.defaults, this.maxPayloadBytes, trace));
      } catch (err) {
        if (err instanceof InvalidOptionError) throw new InvalidOptionError(`jobs[${i}].${err.option}`, err.message.replace(/^invalid [^:]*: /, ''));
        throw err;
      }
    }
    return prepared;
  }

  /** A snapshot of one job, or `null` if there is no such job (completed jobs are removed unless kept). */
  async getJob(id: string): Promise<JobInfo<T> | null> {
    checkId('id', id);
    return (await readJob(this.redis(), this.keys, id)) as JobInfo<T> | null;
  }

  /** Counts of jobs in every state, read atomically. */
  async counts(): Promise<QueueCounts> {
    const k = this.keys;
    const multi = this.redis().multi().llen(k.ready).zcard(k.prio).zcard(k.delayed).zcount(k.leased, '-inf', '(inf')
      .zcard(k.dead).zcard(k.done).zcard(k.cancelled).hexists(k.meta, 'paused').zcard(k.group_queue);
    const n = (await execValues(multi)).map(Number);
    return { ready: n[0]! + n[1]! + n[8]!, delayed: n[2]!, leased: n[3]!, dead: n[4]!, completed: n[5]!, cancelled: n[6]!, paused: n[7] === 1 };
  }

  /**
   * The queue's metrics, the same from any process: counters of jobs added
   * and of run outcomes (written by the scripts that made each change),
   * histograms of wait and processing time (workers add theirs every few
   * seconds), and gauges read now (jobs per state, oldest waiting job's age,
   * paused, workers and their busy and idle slots). `prometheusText([...])`
   * turns them into a Prometheus exposition.
   * @example
   * const { gauges } = await queue.metrics()
   * if (gauges.oldestWaitingMs > 60_000) alert('jobs wait over a minute')
   */
  async metrics(): Promise<QueueMetrics> {
    return readMetrics(this.redis(), this.keys, this.name, await this.counts());
  }

  /**
   * The queue at a glance: its counts, the waiting job first in line and how
   * long ago it was added, and from the events stream what happened in the
   * last `windowMs` (default a minute: jobs added, completed, failed, retried,
   * dead, and completions per second). Reads a few keys and the window of the
   * stream (at most the policy's `eventsMaxLen` entries).
   * @example
   * const { counts, oldestWaiting, recent } = await queue.stats()
   * if (counts.ready > 0 && recent?.completedPerSec === 0) alert(`${counts.ready} waiting, none completing`)
   */
  async stats(options: StatsOptions = {}): Promise<QueueStats> {
    const { windowMs } = checkStatsOptions(options);
    return readStats(this.redis(), this.keys, await this.counts(), windowMs);
  }

  /**
   * Whether Redis holds this queue: it had a job (its `jobs` hash stays from
   * the first job on), a policy, a pause or a schedule. A mistyped name is
   * not a queue.
   * @example
   * if (!(await new Queue('emials', { connection }).exists())) throw new Error('no such queue')
   */
  async exists(): Promise<boolean> {
    const k = this.keys;
    const n = await execValues(this.redis().multi().hlen(k.jobs).hlen(k.meta).hlen(k.schedules));
    return n.some((v) => Number(v) > 0);
  }

  /**
   * The workers the queue has heard from (each lease and ack call says how
   * many of its slots are busy), most recently seen first.
   * @example
   * const gone = (await queue.workers()).filter((w) => !w.alive)
   */
  async workers(): Promise<WorkerInfo[]> {
    return readWorkers(this.redis(), this.keys);
  }

  /** Stops all workers of this queue from leasing new jobs. Adds still work; running jobs finish. */
  async pause(): Promise<void> {
    await this.scripts.call(this.redis(), 'pause', { paused: true });
  }

  /** Lets workers lease again after {@link Queue.pause}. */
  async resume(): Promise<void> {
    await this.scripts.call(this.redis(), 'pause', { paused: false });
  }

  /**
   * Sets the queue's policy, which every producer and worker of the queue
   * follows (it lives in Redis). Fields left out keep their value; invalid
   * ones throw {@link InvalidOptionError} and nothing is written.
   * @example
   * await queue.setPolicy({ keepCompleted: { count: 1000 }, maxErrors: 20, maxWaiting: 100_000 })
   */
  async setPolicy(policy: QueuePolicy): Promise<void> {
    const fields = policyFields(policy);
    await this.scripts.call(this.redis(), 'setPolicy', { fields });
  }

  /** The queue's policy as Redis holds it (defaults for fields never set). */
  async getPolicy(): Promise<ResolvedQueuePolicy> {
    return readPolicy(await this.redis().hmget(this.keys.meta, ...POLICY_META_FIELDS));
  }

  /**
   * Cancels a job: a waiting or delayed job will not run; a running job ends
   * as cancelled (not retried, not dead-lettered), its handler's signal aborts
   * with {@link JobCancelledError} at its worker's next heartbeat, and its late
   * ack changes nothing. Cancelled jobs stay visible in `getJob` (state
   * `'cancelled'`) up to the policy's `keepCancelled`.
   */
  async cancel(id: string): Promise<CancelOutcome> {
    checkId('id', id);
    const code = await this.scripts.call(this.redis(), 'cancel', { id });
    if (code === ResultCode.OK) return 'cancelled';
    if (code === ResultCode.RUNNING) return 'cancelling';
    if (code === ResultCode.DONE_ALREADY) return 'finished';
    return 'not-found';
  }

  /** Whether the queue is paused. */
  async isPaused(): Promise<boolean> {
    return (await this.redis().hexists(this.keys.meta, 'paused')) === 1;
  }

  /**
   * Removes one job in any state, at your explicit request. A worker running
   * it loses its lease. Resolves `false` when there was no such job.
   */
  async remove(id: string): Promise<boolean> {
    checkId('id', id);
    const code = await this.scripts.call(this.redis(), 'remove', { id });
    return code === ResultCode.OK;
  }

  /**
   * Waits for a job's outcome, from any process: resolves with its handler's
   * return value once it completes (the value as kept by the policy's
   * `keepCompleted`: without it, a job that completes during the wait
   * resolves `undefined`, and one that had completed before is gone:
   * `JobNotFoundError`); rejects with `JobFailedError` (dead-lettered, with
   * its last error), `JobCancelledError`, `JobNotFoundError` (no such job, or
   * removed) or, after `timeoutMs`, `WaitTimeoutError` (the job goes on).
   * Every wait of the queue in this process shares one events reader.
   * `onProgress` hears the job's progress reports while it waits (first the
   * latest one already made, if the job is running), in order; a listener
   * that throws is logged and ignored.
   * @example
   * const id = await queue.add({ imageUrl })
   * const thumbnails = await queue.result(id, { timeoutMs: 30_000, onProgress: (p) => show(p.value) })
   */
  async result<R = unknown>(id: string, options: ResultOptions = {}): Promise<R> {
    checkId('id', id);
    const o = checkObject<ResultOptions>('options', options);
    checkKnownKeys('options', o, ['timeoutMs', 'onProgress']);
    const timeoutMs = checkInt('timeoutMs', o.timeoutMs ?? 0, 0, MAX_DURATION_MS);
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new InvalidOptionError('onProgress', 'expected a function (progress) => void');
    this.redis(); // refuses a closed queue
    return (await this.results.wait(id, timeoutMs, o.onProgress)) as R;
  }

  /**
   * The queue's events, in order, as an async iterator on a connection of its
   * own: `for await (const e of queue.events({ from: lastId }))`. Resuming
   * from an event's `id` misses and repeats nothing; a reader that fell
   * further behind than the policy's `eventsMaxLen` gets `EventsGapError`.
   * End it with `break` or `signal`.
   * @example
   * for await (const e of queue.events({ signal })) if (e.type === 'dead') alert(e.jobId)
   */
  events(options: EventsOptions = {}): AsyncGenerator<QueueEvent> {
    const resolved = resolveEventsOptions(options);
    return readEvents(this.redis(), this.keys.events, resolved);
  }

  /**
   * Resolves once the queue's connection is ready for commands (at once when
   * it is): a start-up can wait for Redis instead of sleeping. Adds made
   * before then wait for the connection anyway. Rejects with
   * {@link ConnectionClosedError} when the queue is closed first.
   * @example
   * await queue.ready()
   */
  ready(): Promise<void> {
    return whenReady([this.conn.redis], this.closedSignal.signal, `queue ${this.name}`);
  }

  /** Waits for adds under way to be answered, then closes the connection (if the queue opened it). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closedSignal.abort();
    this.results.close(new ConnectionClosedError(`queue ${this.name}`));
    // adds still waiting for the first look for @opentelemetry/api are added first
    if (otel.api === undefined || this.waitingForOtel > 0) await otel.load();
    await this.batcher.settled();
    await release(this.conn);
  }

  private redis(): RedisConnection {
    if (this.closed) throw new ConnectionClosedError(`queue ${this.name}`);
    return this.conn.redis;
  }
}

