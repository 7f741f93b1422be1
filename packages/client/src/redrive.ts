import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError, KyooError, ResultCode, checkKnownKeys, checkNumber, checkObject, type QueueKeys, type RedisConnection, type Scripts } from '@kyoo/core';
import { checkFilter, redisNow, resolveFilter, scanDead, type DeadLetterFilter, type DeadLetterFilterSummary } from './dead-filter.js';
import { execValues } from './exec.js';

/**
 * A queue's redrive task: a replay of the dead jobs a filter matched when it
 * was made, which can be run at a limited rate, interrupted and resumed, and
 * replays each of those jobs at most once (see `queue.dead.createRedrive`).
 */
export interface RedriveTask {
  /** Random id, made with the task. */
  id: string;
  /** `preparing` while it is being made (a task left so has replayed nothing), `active` until every job was offered, then `done`. */
  status: 'preparing' | 'active' | 'done';
  /** What it replays. */
  filter: DeadLetterFilterSummary;
  /** When it was made (ms since epoch, Redis clock). */
  createdAt: number;
  /** When it was done. */
  finishedAt?: number;
  /** Jobs the filter matched. */
  total: number;
  /** Jobs it replayed. */
  replayed: number;
  /** Jobs it passed over: no longer dead in the death it matched (replayed, purged or removed by someone else, or dead again since). */
  skipped: number;
  /** Jobs it has still to offer. */
  left: number;
}

/** Options of `queue.dead.runRedrive`. */
export interface RedriveRunOptions {
  /** Jobs replayed per second at most. @defaultValue no limit (1,000 per call) */
  ratePerSec?: number;
  /** Stops the run between two calls (each call is atomic): the task stays active, to resume later. */
  signal?: AbortSignal;
  /** Hears the task after each call (a listener that throws stops the run with its error). */
  onProgress?: (task: RedriveTask) => void;
}

/** Why a redrive call was refused. */
export type RedriveRefusal =
  /** createRedrive: an active task exists; run it, or drop it first. */
  | 'exists'
  /** runRedrive: there is no task. */
  | 'none'
  /** runRedrive: the task is still being made (or its maker stopped half-way: make it again). */
  | 'preparing'
  /** The task was replaced or dropped by someone else while this call made or ran it. */
  | 'replaced';

/**
 * A redrive task call was refused (`reason` says why); nothing was replayed by the refused call.
 * @example
 * try {
 *   await queue.dead.createRedrive({ errorName: 'SmtpError' })
 * } catch (err) {
 *   if (err instanceof RedriveError && err.reason === 'exists') await queue.dead.runRedrive() // finish the last one first
 * }
 */
export class RedriveError extends KyooError {
  override readonly name = 'RedriveError';
  constructor(
    readonly reason: RedriveRefusal,
    message: string,
  ) {
    super('REDRIVE_REFUSED', message);
  }
}

const BATCH = 1000;
const MAX_RATE = 100_000;

/** The queue's redrive task, or `null`. */
export async function readRedrive(redis: RedisConnection, keys: QueueKeys): Promise<RedriveTask | null> {
  const [h, left] = (await execValues(redis.multi().hgetall(keys.redrive).zcard(keys.redrive_ids))) as [Record<string, string>, number];
  if (!h['id']) return null;
  let filter: DeadLetterFilterSummary = {};
  try {
    filter = JSON.parse(h['filter'] ?? '{}') as DeadLetterFilterSummary;
  } catch {
    // written by kyoo: always JSON; anything else shows as no filter
  }
  const task: RedriveTask = {
    id: h['id'],
    status: h['status'] === 'done' || h['status'] === 'active' ? h['status'] : 'preparing',
    filter,
    createdAt: Number(h['created_at'] ?? 0),
    total: Number(h['total'] ?? 0),
    replayed: Number(h['replayed'] ?? 0),
    skipped: Number(h['skipped'] ?? 0),
    left: Number(left),
  };
  if (h['finished_at'] !== undefined) task.finishedAt = Number(h['finished_at']);
  return task;
}

/** Makes the queue's redrive task from the dead jobs `filter` matches now. */
export async function createRedrive(redis: RedisConnection, keys: QueueKeys, scripts: Scripts, queue: string, filter: DeadLetterFilter): Promise<RedriveTask> {
  const f = resolveFilter(checkFilter(filter), await redisNow(redis));
  const task = randomBytes(6).toString('hex');
  const build = async (create: boolean, seal: boolean, jobs: { id: string; died: string }[]): Promise<void> => {
    const [code, n] = await scripts.call(redis, 'redriveBuild', { task, create, seal, filter: JSON.stringify(f.summary), jobs });
    if (code === ResultCode.DUPLICATE) {
      throw new RedriveError('exists', `queue ${queue} has an unfinished redrive task (${n} jobs left): run it, or drop it first`);
    }
    if (code === ResultCode.STALE) throw new RedriveError('replaced', `the redrive task ${task} was replaced or dropped while it was being made`);
  };
  await build(true, false, []);
  for await (const page of scanDead(redis, keys, f)) {
    if (page.matches.length > 0) await build(false, false, page.matches.map((m) => ({ id: m.id, died: m.died })));
  }
  await build(false, true, []);
  const made = await readRedrive(redis, keys);
  if (!made || made.id !== task) throw new RedriveError('replaced', `the redrive task ${task} was replaced or dropped just after it was made`);
  return made;
}

/** Checks the options of a run. */
export function checkRunOptions(options: unknown): RedriveRunOptions {
  const o = checkObject<RedriveRunOptions>('options', options);
  checkKnownKeys('options', o, ['ratePerSec', 'signal', 'onProgress']);
  if (o.ratePerSec !== undefined) checkNumber('options.ratePerSec', o.ratePerSec, 0.01, MAX_RATE);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InvalidOptionError('options.signal', 'expected an AbortSignal');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new InvalidOptionError('options.onProgress', 'expected a function (task) => void');
  return o;
}

/**
 * Runs the queue's redrive task until it is done or `signal` aborts,
 * `ratePerSec` jobs a second at most: one script call per batch (a tenth of
 * a second's worth), paced from the start of the run.
 */
export async function runRedrive(redis: RedisConnection, keys: QueueKeys, scripts: Scripts, options: RedriveRunOptions): Promise<RedriveTask> {
  const { ratePerSec, signal, onProgress } = checkRunOptions(options);
  let task = await readRedrive(redis, keys);
  if (!task) throw new RedriveError('none', 'there is no redrive task to run');
  if (task.status === 'preparing') throw new RedriveError('preparing', `the redrive task ${task.id} is still being made (if its maker stopped, make it again: it has replayed nothing)`);
  const n = ratePerSec === undefined ? BATCH : Math.max(1, Math.min(BATCH, Math.ceil(ratePerSec / 10)));
  const started = performance.now();
  let replayed = 0;
  while (task.status === 'active' && !signal?.aborted) {
    const reply: number[] = await scripts.call(redis, 'redriveRun', { task: task.id, n });
    const [code, done = 0, , left = 0, taskReplayed = 0, taskSkipped = 0] = reply;
    if (code === ResultCode.DONE_ALREADY) return (await readRedrive(redis, keys)) ?? { ...task, status: 'done', left: 0 };
    if (code !== ResultCode.OK) throw new RedriveError('replaced', `the redrive task ${task.id} was replaced or dropped while it ran`);
    task = { ...task, replayed: taskReplayed, skipped: taskSkipped, left, status: left === 0 ? 'done' : 'active' };
    if (left === 0) task = (await readRedrive(redis, keys)) ?? task;
    onProgress?.(task);
    replayed += done;
    if (ratePerSec !== undefined && task.status === 'active') {
      const wait = started + (replayed / ratePerSec) * 1000 - performance.now();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, signal ? { signal } : {});
        } catch {
          break; // aborted: the task stays active
        }
      }
    }
  }
  return task;
}

/** Drops the queue's redrive task (the one with id `task`, when given). Resolves `false` when there was none (or another). */
export async function dropRedrive(redis: RedisConnection, scripts: Scripts, task = ''): Promise<boolean> {
  return (await scripts.call(redis, 'redriveDrop', { task })) === ResultCode.OK;
}
