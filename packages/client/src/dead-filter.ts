import {
  InvalidOptionError,
  MAX_DURATION_MS,
  checkId,
  checkInt,
  checkKnownKeys,
  checkObject,
  decodeErrors,
  type JobError,
  type QueueKeys,
  type RedisConnection,
} from '@kyoo/core';
import { errorFingerprint } from './fingerprint.js';

/**
 * Which dead jobs an operator means: every field given must hold (an empty
 * filter matches every dead job). Error fields look at the job's last error,
 * the one it died of; ages are by Redis's clock, taken once when the call starts.
 * @example
 * await queue.dead.find({ errorName: 'SmtpError', message: /refused/i, olderThanMs: 3_600_000 })
 */
export interface DeadLetterFilter {
  /** Only these jobs (1 to 10,000 ids). */
  ids?: readonly string[];
  /** The last error's name is exactly this, e.g. `'TypeError'`. */
  errorName?: string;
  /** The last error's message contains this text (case-sensitive), or matches this RegExp. */
  message?: string | RegExp;
  /** The last error's fingerprint ({@link errorFingerprint}): one group of `dead.groups()`. */
  fingerprint?: string;
  /** Died at least this long ago (ms). */
  olderThanMs?: number;
  /** Died at most this long ago (ms). */
  newerThanMs?: number;
}

/** A filter as a redrive task keeps it: ages turned into times of death (ms since epoch, Redis clock). */
export interface DeadLetterFilterSummary {
  /** How many ids the filter named. */
  ids?: number;
  errorName?: string;
  /** The text, or a RegExp as `/source/flags`. */
  message?: string;
  fingerprint?: string;
  /** Died at or before this time. */
  diedBefore?: number;
  /** Died at or after this time. */
  diedAfter?: number;
}

/** A validated filter, its ages resolved against one reading of the Redis clock. */
export interface ResolvedFilter {
  ids: string[] | undefined;
  errorName: string | undefined;
  message: string | RegExp | undefined;
  fingerprint: string | undefined;
  /** Score bounds on `dead`, as ZRANGEBYSCORE takes them. */
  min: string;
  max: string;
  summary: DeadLetterFilterSummary;
}

const MAX_IDS = 10_000;
const FINGERPRINT_RE = /^[0-9a-f]{12}$/;

/** Checks a filter (an {@link InvalidOptionError} names the field; nothing is read or written). */
export function checkFilter(filter: unknown): DeadLetterFilter {
  const f = checkObject<DeadLetterFilter>('filter', filter);
  checkKnownKeys('filter', f, ['ids', 'errorName', 'message', 'fingerprint', 'olderThanMs', 'newerThanMs']);
  if (f.ids !== undefined) {
    if (!Array.isArray(f.ids) || f.ids.length === 0 || f.ids.length > MAX_IDS) {
      throw new InvalidOptionError('filter.ids', `expected an array of 1 to ${MAX_IDS} job ids`);
    }
    f.ids.forEach((id, i) => checkId(`filter.ids[${i}]`, id));
  }
  if (f.errorName !== undefined && (typeof f.errorName !== 'string' || f.errorName === '')) {
    throw new InvalidOptionError('filter.errorName', 'expected an error name, e.g. "TypeError"');
  }
  if (f.message !== undefined && !(f.message instanceof RegExp) && (typeof f.message !== 'string' || f.message === '')) {
    throw new InvalidOptionError('filter.message', 'expected a non-empty string (matched as a substring) or a RegExp');
  }
  if (f.fingerprint !== undefined && (typeof f.fingerprint !== 'string' || !FINGERPRINT_RE.test(f.fingerprint))) {
    throw new InvalidOptionError('filter.fingerprint', `expected 12 hex characters as dead.groups() gives them, got ${JSON.stringify(String(f.fingerprint).slice(0, 40))}`);
  }
  if (f.olderThanMs !== undefined) checkInt('filter.olderThanMs', f.olderThanMs, 0, MAX_DURATION_MS);
  if (f.newerThanMs !== undefined) checkInt('filter.newerThanMs', f.newerThanMs, 0, MAX_DURATION_MS);
  return f;
}

/** Resolves a checked filter's ages against `now` (Redis's clock, ms). */
export function resolveFilter(f: DeadLetterFilter, now: number): ResolvedFilter {
  const summary: DeadLetterFilterSummary = {};
  if (f.ids) summary.ids = f.ids.length;
  if (f.errorName !== undefined) summary.errorName = f.errorName;
  if (f.message !== undefined) summary.message = f.message instanceof RegExp ? String(f.message) : f.message;
  if (f.fingerprint !== undefined) summary.fingerprint = f.fingerprint;
  if (f.olderThanMs !== undefined) summary.diedBefore = now - f.olderThanMs;
  if (f.newerThanMs !== undefined) summary.diedAfter = now - f.newerThanMs;
  // a global or sticky RegExp keeps state between test() calls: use a plain copy
  const message = f.message instanceof RegExp ? new RegExp(f.message.source, f.message.flags.replace(/[gy]/g, '')) : f.message;
  return {
    ids: f.ids ? [...new Set(f.ids)] : undefined,
    errorName: f.errorName,
    message,
    fingerprint: f.fingerprint,
    min: summary.diedAfter === undefined ? '-inf' : String(summary.diedAfter),
    max: summary.diedBefore === undefined ? '+inf' : String(summary.diedBefore),
    summary,
  };
}

/** Redis's clock, ms. */
export async function redisNow(redis: RedisConnection): Promise<number> {
  const [sec, usec] = (await redis.time()) as unknown as [string | number, string | number];
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
}

/** One dead job as the scan sees it. */
export interface DeadEntry {
  id: string;
  /** Its `dead` score as Redis gave it: the death a guarded replay or purge names. */
  died: string;
  /** Time of death, ms since epoch (Redis clock). */
  diedAt: number;
  lastError: JobError | undefined;
}

/** A position in `dead`: after the member `id` at `score`. */
export interface DeadPosition {
  score: string;
  id: string;
}

/** One page of a scan: the matching entries, and the position of the last entry looked at. */
export interface ScanPage {
  matches: DeadEntry[];
  last: DeadPosition;
}

const PAGE = 1000;

/** Redis orders members of equal score by their bytes. */
const after = (a: DeadPosition, b: DeadPosition): boolean =>
  Number(a.score) > Number(b.score) || (Number(a.score) === Number(b.score) && Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)) > 0);

/**
 * Walks the dead-letter queue in order of death (oldest first), from after
 * `from`, a page at a time, yielding each page's matches. Positions are
 * values, not ranks, so jobs leaving the queue meanwhile (a replay of the
 * page just yielded) never make it skip one.
 */
export async function* scanDead(redis: RedisConnection, keys: QueueKeys, f: ResolvedFilter, from?: DeadPosition): AsyncGenerator<ScanPage> {
  let pos = from;
  if (f.ids) {
    const found = await scoresOf(redis, keys, f.ids, f);
    const rest = found.filter((p) => pos === undefined || after(p, pos));
    for (let i = 0; i < rest.length; i += PAGE) {
      const page = rest.slice(i, i + PAGE);
      yield { matches: await matching(redis, keys, page, f), last: page[page.length - 1]! };
    }
    return;
  }
  for (;;) {
    const { page, end } = await rawPage(redis, keys.dead, f, pos);
    if (page.length > 0) {
      pos = page[page.length - 1]!;
      yield { matches: await matching(redis, keys, page, f), last: pos };
    }
    if (end) return;
  }
}

/** The next page of `dead` after `pos` within the filter's bounds; `end` when nothing follows. */
async function rawPage(redis: RedisConnection, key: string, f: ResolvedFilter, pos: DeadPosition | undefined): Promise<{ page: DeadPosition[]; end: boolean }> {
  // from pos's score inclusive, dropping what is at or before pos; members of one score are
  // few (deaths in one ms), but a page of nothing else moves on by offset
  const min = pos === undefined || (f.min !== '-inf' && Number(pos.score) < Number(f.min)) ? f.min : pos.score;
  for (let offset = 0; ; offset += PAGE) {
    const flat = await redis.zrangebyscore(key, min, f.max, 'WITHSCORES', 'LIMIT', offset, PAGE);
    const raw: DeadPosition[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) raw.push({ id: flat[i]!, score: flat[i + 1]! });
    const page = pos === undefined ? raw : raw.filter((p) => after(p, pos));
    if (page.length > 0 || raw.length < PAGE) return { page, end: raw.length < PAGE };
  }
}

/** The given ids that are dead within the filter's bounds, in order of death. */
async function scoresOf(redis: RedisConnection, keys: QueueKeys, ids: string[], f: ResolvedFilter): Promise<DeadPosition[]> {
  const out: DeadPosition[] = [];
  for (let i = 0; i < ids.length; i += PAGE) {
    const chunk = ids.slice(i, i + PAGE);
    const pipe = redis.pipeline();
    for (const id of chunk) pipe.zscore(keys.dead, id);
    const res = (await pipe.exec()) ?? [];
    chunk.forEach((id, j) => {
      const [err, score] = res[j] ?? [null, null];
      if (err) throw err;
      if (typeof score === 'string' && inBounds(Number(score), f)) out.push({ id, score });
    });
  }
  return out.sort((a, b) => (after(a, b) ? 1 : after(b, a) ? -1 : 0));
}

function inBounds(score: number, f: ResolvedFilter): boolean {
  return (f.min === '-inf' || score >= Number(f.min)) && (f.max === '+inf' || score <= Number(f.max));
}

/** The entries of a page whose last error matches the filter. */
async function matching(redis: RedisConnection, keys: QueueKeys, page: DeadPosition[], f: ResolvedFilter): Promise<DeadEntry[]> {
  const blobs = await redis.hmgetBuffer(keys.errors, ...page.map((p) => p.id));
  const out: DeadEntry[] = [];
  page.forEach((p, i) => {
    const lastError = lastOf(blobs[i] ?? null);
    const entry: DeadEntry = { id: p.id, died: p.score, diedAt: Math.floor(Number(p.score)), lastError };
    if (errorMatches(entry.lastError, f)) out.push(entry);
  });
  return out;
}

function lastOf(blob: Buffer | null): JobError | undefined {
  try {
    return decodeErrors(blob).at(-1);
  } catch {
    return { name: 'DecodeError', message: 'error history could not be decoded', attempt: 0, at: 0 };
  }
}

/** Whether a job's last error matches the filter's error fields. */
export function errorMatches(error: JobError | undefined, f: Pick<ResolvedFilter, 'errorName' | 'message' | 'fingerprint'>): boolean {
  if (f.errorName !== undefined && error?.name !== f.errorName) return false;
  if (f.message !== undefined) {
    const text = error?.message ?? '';
    if (typeof f.message === 'string' ? !text.includes(f.message) : !f.message.test(text)) return false;
  }
  if (f.fingerprint !== undefined && errorFingerprint(error).fingerprint !== f.fingerprint) return false;
  return true;
}
