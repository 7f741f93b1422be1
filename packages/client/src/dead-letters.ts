import { ResultCode, checkId, checkInt, checkKnownKeys, checkObject, InvalidOptionError, type QueueKeys, type RedisConnection, type Scripts } from '@kyoo/core';
import { readJob, type JobInfo } from './job-info.js';
import { checkFilter, redisNow, resolveFilter, scanDead, type DeadLetterFilter, type DeadPosition } from './dead-filter.js';
import { errorFingerprint } from './fingerprint.js';
import { createRedrive, dropRedrive, readRedrive, runRedrive, type RedriveRunOptions, type RedriveTask } from './redrive.js';

const PAGE = 1000;

/** Outcome of a replay or purge: what was done, and what was not and why. */
export interface DeadLetterResult {
  /** Ids replayed (or purged). */
  done: string[];
  /** Ids that exist but are not dead. */
  notDead: string[];
  /** Ids of no job at all. */
  notFound: string[];
  /** With a filter: ids that were dead when matched but not in that death when reached (replayed and dead again meanwhile); left as they are. */
  changed: string[];
}

/** A dead job as {@link DeadLetters.find} lists it: its snapshot and its last error's fingerprint. */
export type DeadJob<T = unknown> = JobInfo<T> & { fingerprint: string };

/** One page of {@link DeadLetters.find}. */
export interface DeadLetterPage<T = unknown> {
  jobs: DeadJob<T>[];
  /** Pass it back as `cursor` for the next page; absent after the last. */
  cursor?: string;
}

/** Dead jobs whose last errors share a fingerprint (see {@link errorFingerprint}). */
export interface DeadLetterGroup {
  fingerprint: string;
  /** The error's name. */
  name: string;
  /** The normalised message (`<n>`, `<str>`, `<uuid>`, `<hex>` where jobs differ). */
  message: string;
  /** The top stack frame (`''` when the error had no stack). */
  frame: string;
  count: number;
  /** Earliest and latest time of death in the group (ms since epoch, Redis clock). */
  oldest: number;
  newest: number;
  /** The newest job of the group and its message as it was. */
  sample: { id: string; message: string };
}

/**
 * The dead-letter queue of one queue: jobs that used up their attempts, kept
 * with their error history until an operator replays or purges them.
 * Reached as `queue.dead`.
 */
export class DeadLetters {
  /** @internal */
  constructor(
    private readonly redis: () => RedisConnection,
    private readonly keys: QueueKeys,
    private readonly scripts: Scripts,
    private readonly queue = '',
  ) {}

  /**
   * Number of dead jobs; with a filter, of those it matches (which reads the
   * whole dead-letter queue, a page at a time).
   * @example
   * const stale = await queue.dead.count({ olderThanMs: 7 * 24 * 3_600_000 })
   */
  async count(filter?: DeadLetterFilter): Promise<number> {
    if (filter === undefined) return this.redis().zcard(this.keys.dead);
    let n = 0;
    for await (const page of this.scan(filter)) n += page.matches.length;
    return n;
  }

  /**
   * Lists dead jobs, oldest death first, a page at a time (`limit` 1–1000, default 100).
   * @example
   * const page = await queue.dead.list({ offset: 0, limit: 20 })
   * const reasons = page.map((job) => `${job.id}: ${job.lastError?.message}`)
   */
  async list(page: { offset?: number; limit?: number } = {}): Promise<JobInfo[]> {
    const p = checkObject<{ offset?: number; limit?: number }>('page', page);
    checkKnownKeys('page', p, ['offset', 'limit']);
    const offset = checkInt('page.offset', p.offset ?? 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = checkInt('page.limit', p.limit ?? 100, 1, PAGE);
    const ids = await this.redis().zrange(this.keys.dead, offset, offset + limit - 1);
    const jobs = await Promise.all(ids.map((id) => readJob(this.redis(), this.keys, id)));
    return jobs.filter((j): j is JobInfo => j !== null);
  }

  /**
   * The dead jobs a filter matches, oldest death first, `limit` (1–1000,
   * default 100) at a time; pass the page's `cursor` back for the next. A
   * cursor is a position, not a rank: jobs replayed or purged meanwhile never
   * make a page skip one.
   * @example
   * const { jobs, cursor } = await queue.dead.find({ errorName: 'SmtpError', olderThanMs: 3_600_000 }, { limit: 20 })
   */
  async find(filter: DeadLetterFilter = {}, page: { limit?: number; cursor?: string } = {}): Promise<DeadLetterPage> {
    const p = checkObject<{ limit?: number; cursor?: string }>('page', page);
    checkKnownKeys('page', p, ['limit', 'cursor']);
    const limit = checkInt('page.limit', p.limit ?? 100, 1, PAGE);
    const from = p.cursor === undefined ? undefined : decodeCursor(p.cursor);
    const picked: { id: string; at: DeadPosition }[] = [];
    let more = false;
    for await (const page of this.scan(filter, from)) {
      for (const m of page.matches) {
        if (picked.length === limit) {
          more = true;
          break;
        }
        picked.push({ id: m.id, at: { score: m.died, id: m.id } });
      }
      if (more) break;
    }
    const jobs = await Promise.all(picked.map(async ({ id }) => {
      const job = await readJob(this.redis(), this.keys, id);
      return job?.state === 'dead' ? { ...job, fingerprint: errorFingerprint(job.lastError).fingerprint } : null;
    }));
    const out: DeadLetterPage = { jobs: jobs.filter((j): j is DeadJob => j !== null) };
    if (more) out.cursor = encodeCursor(picked[picked.length - 1]!.at);
    return out;
  }

  /** One dead job, or `null` when the id is not in the dead-letter queue. */
  async get(id: string): Promise<JobInfo | null> {
    checkId('id', id);
    const job = await readJob(this.redis(), this.keys, id);
    return job?.state === 'dead' ? job : null;
  }

  /**
   * The dead jobs (those a filter matches) grouped by their last error's
   * fingerprint: one group per way of failing, largest first. Pass a group's
   * `fingerprint` in a filter to replay or purge it.
   * @example
   * const [worst] = await queue.dead.groups() // { fingerprint, name, message: 'smtp-<n>.example.com refused', count, ... }
   * await queue.dead.purge({ fingerprint: worst.fingerprint })
   */
  async groups(filter: DeadLetterFilter = {}): Promise<DeadLetterGroup[]> {
    const groups = new Map<string, DeadLetterGroup>();
    for await (const page of this.scan(filter)) {
      for (const m of page.matches) {
        const fp = errorFingerprint(m.lastError);
        const g = groups.get(fp.fingerprint);
        if (!g) {
          groups.set(fp.fingerprint, { ...fp, count: 1, oldest: m.diedAt, newest: m.diedAt, sample: { id: m.id, message: m.lastError?.message ?? '' } });
          continue;
        }
        g.count++;
        g.oldest = Math.min(g.oldest, m.diedAt);
        if (m.diedAt >= g.newest) [g.newest, g.sample] = [m.diedAt, { id: m.id, message: m.lastError?.message ?? '' }];
      }
    }
    return [...groups.values()].sort((a, b) => b.count - a.count || b.newest - a.newest);
  }

  /**
   * Moves dead jobs back to the ready queue with attempts reset: the given
   * ids, `'all'` (paged, so a large DLQ never blocks Redis), or those a
   * {@link DeadLetterFilter} matches (each in the death it was matched in:
   * one replayed and dead again meanwhile is left, in `changed`; an empty
   * filter is refused: say `'all'`). For a
   * replay at a limited rate that can be interrupted and resumed, see
   * {@link DeadLetters.createRedrive}.
   */
  async replay(ids: string | readonly string[] | 'all' | DeadLetterFilter): Promise<DeadLetterResult> {
    return this.apply('replay', ids);
  }

  /** Deletes dead jobs for good: the given ids, `'all'`, or those a {@link DeadLetterFilter} matches (as for replay). */
  async purge(ids: string | readonly string[] | 'all' | DeadLetterFilter): Promise<DeadLetterResult> {
    return this.apply('purge', ids);
  }

  /**
   * Makes the queue's redrive task: the dead jobs the filter matches now
   * (`{}` for all), each with the death it was matched in, to be replayed by
   * {@link DeadLetters.runRedrive}, oldest death first. The task lives in
   * Redis, so any process can run or resume it. Refused with
   * {@link RedriveError} (`exists`) while an unfinished task exists.
   * @example
   * await queue.dead.createRedrive({ fingerprint: '3fa9c2d1e0b4' })
   * const task = await queue.dead.runRedrive({ ratePerSec: 50, signal }) // resolves when done or aborted
   */
  async createRedrive(filter: DeadLetterFilter = {}): Promise<RedriveTask> {
    return createRedrive(this.redis(), this.keys, this.scripts, this.queue, filter);
  }

  /**
   * The queue's redrive task (unfinished or done), or `null` when there is none.
   * @example
   * const task = await queue.dead.redrive() // { status: 'active', total: 24, replayed: 9, left: 15, ... }
   */
  async redrive(): Promise<RedriveTask | null> {
    return readRedrive(this.redis(), this.keys);
  }

  /**
   * Runs (or resumes) the queue's redrive task until every job was offered
   * or `signal` aborts, at `ratePerSec` replays a second at most. Each call
   * replays a batch and takes it out of the task atomically, so however the
   * run ends (abort, crash, kill) a resumed run replays each job at most once
   * in all: a job it replayed that died again is not replayed again. Resolves
   * with the task (`status: 'done'`, or `'active'` when aborted).
   */
  async runRedrive(options: RedriveRunOptions = {}): Promise<RedriveTask> {
    return runRedrive(this.redis(), this.keys, this.scripts, options);
  }

  /** Forgets the queue's redrive task (the jobs it has not replayed stay dead). Resolves `false` when there was none. */
  async dropRedrive(): Promise<boolean> {
    return dropRedrive(this.redis(), this.scripts);
  }

  private async *scan(filter: DeadLetterFilter, from?: DeadPosition): ReturnType<typeof scanDead> {
    const f = resolveFilter(checkFilter(filter), await redisNow(this.redis()));
    yield* scanDead(this.redis(), this.keys, f, from);
  }

  private async apply(script: 'replay' | 'purge', ids: string | readonly string[] | 'all' | DeadLetterFilter): Promise<DeadLetterResult> {
    const out: DeadLetterResult = { done: [], notDead: [], notFound: [], changed: [] };
    if (typeof ids === 'object' && ids !== null && !Array.isArray(ids)) {
      // an empty filter would match every dead job: that must be said ('all'), not left out by mistake
      if (Object.keys(ids).length === 0) throw new InvalidOptionError('ids', "an empty filter names no dead job: pass 'all' for every one");
      for await (const page of this.scan(ids as DeadLetterFilter)) {
        if (page.matches.length > 0) await this.call(script, page.matches.map((m) => ({ id: m.id, died: m.died })), out);
      }
      return out;
    }
    if (ids !== 'all') checkIds(ids);
    if (ids === 'all') {
      for (;;) {
        const page = await this.redis().zrange(this.keys.dead, 0, PAGE - 1);
        if (page.length === 0) return out;
        await this.call(script, page.map((id) => ({ id, died: '' })), out);
      }
    }
    const list = typeof ids === 'string' ? [ids] : [...(ids as readonly string[])];
    for (let i = 0; i < list.length; i += PAGE) await this.call(script, list.slice(i, i + PAGE).map((id) => ({ id, died: '' })), out);
    return out;
  }

  private async call(script: 'replay' | 'purge', entries: { id: string; died: string }[], out: DeadLetterResult): Promise<void> {
    const codes = await this.scripts.call(this.redis(), script, { ids: entries });
    codes.forEach((code, i) => {
      const id = entries[i]!.id;
      if (code === ResultCode.OK) out.done.push(id);
      else if (code === ResultCode.NOT_DEAD) out.notDead.push(id);
      else if (code === ResultCode.STALE) out.changed.push(id);
      else out.notFound.push(id);
    });
  }
}

function encodeCursor(at: DeadPosition): string {
  return Buffer.from(JSON.stringify([at.score, at.id])).toString('base64url');
}

function decodeCursor(cursor: unknown): DeadPosition {
  try {
    if (typeof cursor !== 'string') throw new Error('not a string');
    const [score, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof score !== 'string' || !Number.isFinite(Number(score)) || typeof id !== 'string') throw new Error('not a position');
    return { score, id };
  } catch {
    throw new InvalidOptionError('page.cursor', 'expected the cursor of a page find() returned');
  }
}

/** Checks the ids given to replay or purge: one id, or an array of ids (an empty array does nothing). */
function checkIds(ids: unknown): void {
  if (typeof ids === 'string') {
    checkId('ids', ids);
  } else if (Array.isArray(ids)) {
    for (let i = 0; i < ids.length; i++) checkId(`ids[${i}]`, ids[i]);
  } else {
    throw new InvalidOptionError('ids', `expected a job id, an array of job ids, 'all' or a filter, got ${ids === null ? 'null' : typeof ids}`);
  }
}
