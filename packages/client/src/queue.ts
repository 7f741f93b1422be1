import {
  ConnectionClosedError,
  DEFAULT_PREFIX,
  InvalidOptionError,
  JOB_DEFAULTS,
  ResultCode,
  ScriptRunner,
  checkInt,
  checkKnownKeys,
  checkObject,
  connect,
  log,
  queueKeys,
  release,
  type ConnectionOption,
  type OwnedConnection,
  type QueueKeys,
  type RedisConnection,
} from '@kyoo/core';
import { AddBatcher } from './add-batcher.js';
import { resolveDurability, type DurabilityOptions } from './durability.js';
import { DeadLetters } from './dead-letters.js';
import { readJob, type JobInfo } from './job-info.js';
import { prepareJob, resolveDefaults, type JobOptions, type PreparedJob, type ResolvedDefaults } from './job-options.js';

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
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
  /** Completed jobs still kept by retention (0 when workers remove them, the default). */
  completed: number;
  paused: boolean;
}

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

  private readonly conn: OwnedConnection;
  private readonly scripts: ScriptRunner;
  private readonly batcher: AddBatcher;
  private readonly defaults: ResolvedDefaults;
  private readonly maxPayloadBytes: number;
  private closed = false;

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
    this.scripts = new ScriptRunner(this.keys);
    this.batcher = new AddBatcher(this.conn, this.scripts, durability, this.keys.ids);
    this.dead = new DeadLetters(() => this.redis(), this.keys, this.scripts);
  }

  /**
   * Adds one job and resolves with its id once Redis has it. Adds made in
   * the same tick travel to Redis as one call. Invalid options and oversized
   * payloads reject before anything is written.
   */
  async add(data: T, opts?: JobOptions): Promise<string> {
    this.redis();
    return this.batcher.add(prepareJob(data, opts, this.defaults, this.maxPayloadBytes));
  }

  /**
   * Adds many jobs in as few calls as possible (1,000 per call). Every job
   * is validated first: one invalid job rejects the whole call and nothing is
   * written. Resolves with the ids in order.
   */
  async addBulk(jobs: readonly BulkJob<T>[]): Promise<string[]> {
    this.redis();
    if (!Array.isArray(jobs)) throw new InvalidOptionError('jobs', 'expected an array of { data, opts }');
    const prepared: PreparedJob[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const j: unknown = jobs[i]; // a plain loop, so that holes in a sparse array are seen
      if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new InvalidOptionError(`jobs[${i}]`, 'expected { data, opts }');
      checkKnownKeys(`jobs[${i}]`, j, ['data', 'opts']);
      const { data, opts } = j as BulkJob<T>;
      try {
        prepared.push(prepareJob(data, opts, this.defaults, this.maxPayloadBytes));
      } catch (err) {
        if (err instanceof InvalidOptionError) throw new InvalidOptionError(`jobs[${i}].${err.option}`, err.message.replace(/^invalid [^:]*: /, ''));
        throw err;
      }
    }
    return this.batcher.send(prepared);
  }

  /** A snapshot of one job, or `null` if there is no such job (completed jobs are removed unless kept). */
  async getJob(id: string): Promise<JobInfo<T> | null> {
    checkId(id);
    return (await readJob(this.redis(), this.keys, id)) as JobInfo<T> | null;
  }

  /** Counts of jobs in every state, read atomically. */
  async counts(): Promise<QueueCounts> {
    const k = this.keys;
    const res = await this.redis().multi().llen(k.ready).zcard(k.delayed).zcount(k.leased, '-inf', '(inf').zcard(k.dead).zcard(k.done).hexists(k.meta, 'paused').exec();
    const n = (res ?? []).map(([err, v]) => {
      if (err) throw err;
      return Number(v);
    });
    return { ready: n[0]!, delayed: n[1]!, leased: n[2]!, dead: n[3]!, completed: n[4]!, paused: n[5] === 1 };
  }

  /** Stops all workers of this queue from leasing new jobs. Adds still work; running jobs finish. */
  async pause(): Promise<void> {
    await this.scripts.run(this.redis(), 'pause', ['1']);
  }

  /** Lets workers lease again after {@link Queue.pause}. */
  async resume(): Promise<void> {
    await this.scripts.run(this.redis(), 'pause', ['0']);
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
    checkId(id);
    const code = (await this.scripts.run(this.redis(), 'remove', [id])) as number;
    return code === ResultCode.OK;
  }

  /** Waits for adds under way to be answered, then closes the connection (if the queue opened it). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.batcher.settled();
    await release(this.conn);
  }

  private redis(): RedisConnection {
    if (this.closed) throw new ConnectionClosedError(`queue ${this.name}`);
    return this.conn.redis;
  }
}

function checkId(id: unknown): void {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidOptionError('id', 'expected a job id (a non-empty string)');
}
