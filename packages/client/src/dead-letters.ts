import { ResultCode, checkId, checkInt, checkKnownKeys, checkObject, InvalidOptionError, type QueueKeys, type RedisConnection, type Scripts } from '@kyoo/core';
import { readJob, type JobInfo } from './job-info.js';

const PAGE = 1000;

/** Outcome of a replay or purge: what was done, and what was not and why. */
export interface DeadLetterResult {
  /** Ids replayed (or purged). */
  done: string[];
  /** Ids that exist but are not dead. */
  notDead: string[];
  /** Ids of no job at all. */
  notFound: string[];
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
  ) {}

  /** Number of dead jobs. */
  async count(): Promise<number> {
    return this.redis().zcard(this.keys.dead);
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

  /** One dead job, or `null` when the id is not in the dead-letter queue. */
  async get(id: string): Promise<JobInfo | null> {
    checkId('id', id);
    const job = await readJob(this.redis(), this.keys, id);
    return job?.state === 'dead' ? job : null;
  }

  /**
   * Moves dead jobs back to the ready queue with attempts reset: the given
   * ids, or `'all'` (paged, so a large DLQ never blocks Redis).
   */
  async replay(ids: string | readonly string[] | 'all'): Promise<DeadLetterResult> {
    return this.apply('replay', ids);
  }

  /** Deletes dead jobs for good: the given ids, or `'all'`. */
  async purge(ids: string | readonly string[] | 'all'): Promise<DeadLetterResult> {
    return this.apply('purge', ids);
  }

  private async apply(script: 'replay' | 'purge', ids: string | readonly string[] | 'all'): Promise<DeadLetterResult> {
    const out: DeadLetterResult = { done: [], notDead: [], notFound: [] };
    if (ids !== 'all') checkIds(ids);
    if (ids === 'all') {
      for (;;) {
        const page = await this.redis().zrange(this.keys.dead, 0, PAGE - 1);
        if (page.length === 0) return out;
        await this.call(script, page, out);
      }
    }
    const list = typeof ids === 'string' ? [ids] : [...ids];
    for (let i = 0; i < list.length; i += PAGE) await this.call(script, list.slice(i, i + PAGE), out);
    return out;
  }

  private async call(script: 'replay' | 'purge', ids: string[], out: DeadLetterResult): Promise<void> {
    const codes = await this.scripts.call(this.redis(), script, { ids: ids.map((id) => ({ id })) });
    codes.forEach((code, i) => {
      const id = ids[i]!;
      if (code === ResultCode.OK) out.done.push(id);
      else if (code === ResultCode.NOT_DEAD) out.notDead.push(id);
      else out.notFound.push(id);
    });
  }
}

/** Checks the ids given to replay or purge: one id, or an array of ids (an empty array does nothing). */
function checkIds(ids: unknown): void {
  if (typeof ids === 'string') {
    checkId('ids', ids);
  } else if (Array.isArray(ids)) {
    for (let i = 0; i < ids.length; i++) checkId(`ids[${i}]`, ids[i]);
  } else {
    throw new InvalidOptionError('ids', `expected a job id, an array of job ids or 'all', got ${ids === null ? 'null' : typeof ids}`);
  }
}
