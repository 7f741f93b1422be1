import { InvalidOptionError, ResultCode, checkId, checkInt, checkKnownKeys, checkObject, decodeData, decodeErrors, decodeRecord, type JobError, type QueueKeys, type RedisConnection, type Scripts } from '@kyoo/core';
import { execValues } from './exec.js';
import { errorFingerprint } from './fingerprint.js';
import type { JobInfo, JobState } from './job-info.js';
import { readJob } from './job-info.js';
import { waitingSegments, type Segment } from './waiting.js';

const PAGE = 1000;
const MAX_LIMIT = 1000;
const MAX_SCAN = 1_000_000;

/** One page of {@link Jobs.list}. */
export interface JobListPage<T = unknown> {
  /** Jobs in the state now (each count is O(1)). */
  total: number;
  jobs: JobInfo<T>[];
}

/**
 * What {@link Jobs.search} looks for; every field given must hold. Text
 * fields are case-sensitive substrings.
 * @example
 * await queue.jobs.search('dead', { field: 'user.id', value: '42', error: 'timeout' })
 */
export interface JobQuery {
  /** The payload's field at this dot path (`user.id`; a digit step indexes an array)... */
  field?: string;
  /** ...equals this: the field's JSON (`"42"` for a string, `42` for a number), or a string field's text. */
  value?: string;
  /** The payload's JSON contains this. */
  text?: string;
  /** An error of the job's history (`<name>: <message>`) contains this. */
  error?: string;
  /** The last error's fingerprint ({@link errorFingerprint}): a group of `dead.groups()`. */
  fingerprint?: string;
}

/** One call of {@link Jobs.search}. */
export interface JobSearchPage<T = unknown> {
  /** Jobs in the state now. */
  total: number;
  /** Matches, in the state's order (at most `limit`). */
  jobs: JobInfo<T>[];
  /** Jobs this call looked at (at most `scanLimit`). */
  scanned: number;
  /** Pass it back as `cursor` to scan on; absent when the scan reached the end. */
  cursor?: string;
}

/** Outcome of {@link Jobs.runNow}. */
export interface RunNowResult {
  /** Ids that were delayed and are ready now. */
  done: string[];
  /** Ids of jobs that wait for no run-at (ready, running or ended). */
  notDelayed: string[];
  notFound: string[];
}

const STATES: readonly JobState[] = ['ready', 'delayed', 'leased', 'completed', 'dead', 'cancelled'];

/**
 * The jobs of one queue by state, for operators and dashboards: counts,
 * pages and bounded searches, each a few commands whose cost does not grow
 * with the queue (a page reads its jobs, a search at most `scanLimit`).
 * Reached as `queue.jobs`.
 *
 * Orders: `ready` in the order leases take them (by priority, then the ready
 * list, then grouped jobs behind their group's head); `delayed` soonest
 * run-at first; `leased` soonest lease deadline first; `completed`, `dead`,
 * `cancelled` newest first.
 */
export class Jobs {
  /** @internal */
  constructor(
    private readonly redis: () => RedisConnection,
    private readonly keys: QueueKeys,
    private readonly scripts: Scripts,
  ) {}

  /**
   * Number of jobs in a state.
   * @example
   * const delayed = await queue.jobs.count('delayed')
   */
  async count(state: JobState): Promise<number> {
    return (await this.sizes(checkState(state))).reduce((a, s) => a + s.size, 0);
  }

  /**
   * A page of the jobs in a state (`limit` 1-1000, default 50).
   * @example
   * const { total, jobs } = await queue.jobs.list('dead', { offset: 0, limit: 20 })
   */
  async list(state: JobState, page: { offset?: number; limit?: number } = {}): Promise<JobListPage> {
    checkState(state);
    const p = checkObject<{ offset?: number; limit?: number }>('page', page);
    checkKnownKeys('page', p, ['offset', 'limit']);
    const offset = checkInt('page.offset', p.offset ?? 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = checkInt('page.limit', p.limit ?? 50, 1, MAX_LIMIT);
    const segments = await this.sizes(state);
    const total = segments.reduce((a, s) => a + s.size, 0);
    const ids = await this.range(segments, offset, limit);
    return { total, jobs: await this.read(ids, state) };
  }

  /**
   * Searches the jobs of a state for a {@link JobQuery}, looking at
   * `scanLimit` jobs at most (default 10,000; up to 1,000,000) and stopping
   * at `limit` matches (default 50); pass the `cursor` back to scan on. A
   * cursor is a position in the state's order: jobs leaving the state
   * meanwhile may shift it.
   * @example
   * let page = await queue.jobs.search('ready', { field: 'userId', value: '42' })
   * while (page.cursor) page = await queue.jobs.search('ready', { field: 'userId', value: '42' }, { cursor: page.cursor })
   */
  async search(state: JobState, query: JobQuery, options: { limit?: number; scanLimit?: number; cursor?: string } = {}): Promise<JobSearchPage> {
    checkState(state);
    const checked = checkQuery(query);
    const match = matcher(checked);
    const withErrors = checked.error !== undefined || checked.fingerprint !== undefined;
    const o = checkObject<{ limit?: number; scanLimit?: number; cursor?: string }>('options', options);
    checkKnownKeys('options', o, ['limit', 'scanLimit', 'cursor']);
    const limit = checkInt('options.limit', o.limit ?? 50, 1, MAX_LIMIT);
    const scanLimit = checkInt('options.scanLimit', o.scanLimit ?? 10_000, 1, MAX_SCAN);
    let at = o.cursor === undefined ? 0 : decodeCursor(o.cursor);
    const segments = await this.sizes(state);
    const total = segments.reduce((a, s) => a + s.size, 0);
    const jobs: JobInfo[] = [];
    let scanned = 0;
    while (scanned < scanLimit && jobs.length < limit && at < total) {
      const ids = await this.range(segments, at, Math.min(PAGE, scanLimit - scanned));
      if (ids.length === 0) {
        at = total; // the state shrank under the scan: it reached the end
        break;
      }
      const found = await this.matching(ids, match, withErrors);
      let used = ids.length;
      for (let i = 0; i < found.length; i++) {
        if (!found[i]) continue;
        jobs.push(found[i]!);
        if (jobs.length === limit) {
          used = i + 1; // the next call goes on right after the last match
          break;
        }
      }
      at += used;
      scanned += used;
    }
    const out: JobSearchPage = { total, jobs: await this.read(jobs.map((j) => j.id), state), scanned };
    if (at < total) out.cursor = encodeCursor(at);
    return out;
  }

  /**
   * Makes delayed jobs (a delay, or a retry's backoff) ready now, keeping
   * their attempts: "run now" / "retry now".
   * @example
   * const { done, notDelayed } = await queue.jobs.runNow(['42'])
   */
  async runNow(ids: string | readonly string[]): Promise<RunNowResult> {
    const list = typeof ids === 'string' ? [ids] : Array.isArray(ids) ? [...(ids as readonly string[])] : null;
    if (list === null) throw new InvalidOptionError('ids', `expected a job id or an array of job ids, got ${ids === null ? 'null' : typeof ids}`);
    list.forEach((id, i) => checkId(typeof ids === 'string' ? 'ids' : `ids[${i}]`, id));
    const out: RunNowResult = { done: [], notDelayed: [], notFound: [] };
    for (let i = 0; i < list.length; i += PAGE) {
      const chunk = list.slice(i, i + PAGE);
      const codes = await this.scripts.call(this.redis(), 'runNow', { ids: chunk.map((id) => ({ id })) });
      codes.forEach((code, j) => {
        const id = chunk[j]!;
        if (code === ResultCode.OK) out.done.push(id);
        else if (code === ResultCode.NOT_DELAYED) out.notDelayed.push(id);
        else out.notFound.push(id);
      });
    }
    return out;
  }

  private sizes(state: JobState): Promise<Segment[]> {
    return waitingSegments(this.redis(), this.keys, state);
  }

  /** Ids at positions [offset, offset + limit) of the segments laid end to end. */
  private async range(segments: Segment[], offset: number, limit: number): Promise<string[]> {
    const multi = this.redis().multi();
    const parts: Segment[] = [];
    let skip = offset;
    let want = limit;
    for (const s of segments) {
      if (want === 0) break;
      if (skip >= s.size) {
        skip -= s.size;
        continue;
      }
      const n = Math.min(want, s.size - skip);
      s.read(multi, skip, skip + n - 1);
      parts.push(s);
      want -= n;
      skip = 0;
    }
    if (parts.length === 0) return [];
    const replies = await execValues(multi);
    return parts.flatMap((s, i) => s.ids(replies[i]));
  }

  /** The jobs of `ids` (in order) that match, as light snapshots (null where not); errors are read only when the query looks at them. */
  private async matching(ids: string[], match: Matcher, withErrors: boolean): Promise<(JobInfo | null)[]> {
    const multi = this.redis().multi().hmgetBuffer(this.keys.jobs, ...ids);
    if (withErrors) multi.hmgetBuffer(this.keys.errors, ...ids);
    const [records, errors = []] = (await execValues(multi)) as [(Buffer | null)[], (Buffer | null)[]?];
    return ids.map((id, i) => {
      const raw = records[i];
      if (!raw) return null;
      let data: unknown;
      let decoded = true;
      try {
        data = decodeData(decodeRecord(raw).payload, 'job payload');
      } catch {
        decoded = false;
      }
      const errs = safeErrors(errors[i] ?? null);
      return match(decoded, data, errs) ? ({ id } as JobInfo) : null;
    });
  }

  /** Snapshots of `ids` in `state` (those gone meanwhile left out). */
  private async read(ids: string[], state: JobState): Promise<JobInfo[]> {
    const jobs = await Promise.all(ids.map((id) => readJob(this.redis(), this.keys, id, { result: false })));
    return jobs.filter((j): j is JobInfo => j !== null && j.state === state);
  }
}

type Matcher = (decoded: boolean, data: unknown, errors: JobError[]) => boolean;

function checkState(state: unknown): JobState {
  if (!STATES.includes(state as JobState)) throw new InvalidOptionError('state', `expected one of ${STATES.join(', ')}, got ${JSON.stringify(String(state)).slice(0, 40)}`);
  return state as JobState;
}

function checkQuery(query: unknown): JobQuery {
  const q = checkObject<JobQuery>('query', query);
  checkKnownKeys('query', q, ['field', 'value', 'text', 'error', 'fingerprint']);
  for (const k of ['field', 'value', 'text', 'error', 'fingerprint'] as const) {
    const v = q[k];
    if (v !== undefined && (typeof v !== 'string' || v.length > 1000 || (k !== 'value' && v === ''))) {
      throw new InvalidOptionError(`query.${k}`, `expected ${k === 'value' ? 'a string' : 'a non-empty string'} of at most 1,000 characters`);
    }
  }
  if ((q.field === undefined) !== (q.value === undefined)) throw new InvalidOptionError(q.field === undefined ? 'query.field' : 'query.value', 'query.field and query.value go together: the field at a path, and what it must equal');
  if (q.field !== undefined && !/^[^.]+(\.[^.]+)*$/.test(q.field)) throw new InvalidOptionError('query.field', `expected a dot path such as "user.id", got ${JSON.stringify(q.field.slice(0, 40))}`);
  if (q.fingerprint !== undefined && !/^[0-9a-f]{12}$/.test(q.fingerprint)) throw new InvalidOptionError('query.fingerprint', 'expected 12 hex characters as dead.groups() gives them');
  if (Object.values(q).every((v) => v === undefined)) throw new InvalidOptionError('query', 'a search needs at least one of field and value, text, error, fingerprint');
  return q;
}

function matcher(q: JobQuery): Matcher {
  const path = q.field?.split('.');
  return (decoded, data, errors) => {
    if ((path || q.text !== undefined) && !decoded) return false;
    if (path && !valueMatches(at(data, path), q.value!)) return false;
    if (q.text !== undefined && !(JSON.stringify(data) ?? '').includes(q.text)) return false;
    if (q.error !== undefined && !errors.some((e) => `${e.name}: ${e.message}`.includes(q.error!))) return false;
    if (q.fingerprint !== undefined && errorFingerprint(errors.at(-1)).fingerprint !== q.fingerprint) return false;
    return true;
  };
}

function at(data: unknown, path: string[]): unknown {
  let v = data;
  for (const step of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[step];
  }
  return v;
}

function valueMatches(v: unknown, want: string): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string' && v === want) return true;
  return JSON.stringify(v) === want;
}

function safeErrors(bytes: Buffer | null): JobError[] {
  try {
    return decodeErrors(bytes);
  } catch {
    return [];
  }
}

function encodeCursor(n: number): string {
  return `p${n.toString(36)}`;
}

function decodeCursor(cursor: unknown): number {
  const m = typeof cursor === 'string' ? /^p([0-9a-z]{1,11})$/.exec(cursor) : null;
  if (!m) throw new InvalidOptionError('options.cursor', 'expected the cursor of a page search() returned');
  return parseInt(m[1]!, 36);
}
