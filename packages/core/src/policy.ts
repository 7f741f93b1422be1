import { InvalidOptionError } from './errors.js';
import { checkInt, checkKnownKeys, checkObject } from './options.js';
import { POLICY_FIELDS } from './scripts.generated.js';

/**
 * A queue's policy, kept in Redis (the queue's `meta`) and followed by every
 * producer and worker of the queue, so that two workers can never disagree.
 * Set with `queue.setPolicy()`; fields left out keep their current value.
 * @example
 * await queue.setPolicy({ keepCompleted: { count: 10_000, ageMs: 86_400_000 }, maxWaiting: 50_000 })
 */
export interface QueuePolicy {
  /**
   * Keep completed jobs and their results: `true` = the last 1,000; `false`
   * removes them at once. `count` bounds how many, `ageMs` how old (0 = no age limit).
   * @defaultValue `false`
   */
  keepCompleted?: boolean | { count?: number; ageMs?: number };
  /** Cancelled jobs kept for `getJob` (0 removes them at once). @defaultValue `1000` */
  keepCancelled?: number;
  /** Error entries kept per job. @defaultValue `10` */
  maxErrors?: number;
  /**
   * Most jobs waiting (ready + delayed); an add beyond it is refused with
   * `QueueFullError` and writes nothing (`addBulk`: all or nothing). 0 = no limit.
   * @defaultValue `0`
   */
  maxWaiting?: number;
  /**
   * Waiting this long counts as one priority level, so no job starves: a job
   * is overtaken only by jobs of priority p that arrive within
   * `(p - its priority) × priorityAgingMs` after it. 1 ms to about 11.5 days.
   * @defaultValue `60000`
   */
  priorityAgingMs?: number;
  /**
   * Length of the queue's events stream (about: it is trimmed with
   * `MAXLEN ~`), which `queue.events()` reads; 0 writes no events.
   * @defaultValue `10000`
   */
  eventsMaxLen?: number;
  /**
   * Most jobs of the queue running at once across all workers (0 = no
   * limit). A worker with free slots leases no more while the queue is at it.
   * @defaultValue `0`
   */
  maxRunning?: number;
  /**
   * Job starts allowed for the whole queue, across all workers: `max` per
   * `intervalMs`, as a token bucket (up to `max` at once after a quiet spell,
   * then evenly, one every `intervalMs / max`), so over any span of k
   * intervals at most (k + 1) × max jobs start. A job over the limit waits
   * (no attempt used); workers wake when the next start is allowed. `false`
   * removes the limit.
   * @defaultValue `false`
   */
  rateLimit?: RateLimit | false;
  /** What every group gets unless it has its own (`queue.groups.set()`); see {@link GroupPolicy}. */
  groups?: GroupPolicy;
}

/** A rate of job starts: at most `max` per `intervalMs` (see {@link QueuePolicy.rateLimit}). */
export interface RateLimit {
  /** Starts per interval, 1 to 1,000,000,000. */
  max: number;
  /** The interval, 1 ms to 10 years. */
  intervalMs: number;
}

/** The queue's defaults for its groups (jobs added with a `group` key). */
export interface GroupPolicy {
  /**
   * Jobs of one group running at once (0 = no limit). With 1, a group's jobs
   * run one at a time in the order added.
   * @defaultValue `1`
   */
  concurrency?: number;
  /** Starts allowed per group, as {@link QueuePolicy.rateLimit} counts them; `false` = none. @defaultValue `false` */
  rateLimit?: RateLimit | false;
  /**
   * What a failed job that will retry does to its group: `'strict'` keeps its
   * slot until the retry has run (the group waits, so order holds);
   * `'relaxed'` frees it, and the group goes on during the backoff (the
   * retry then runs next in its group).
   * @defaultValue `'strict'`
   */
  order?: 'strict' | 'relaxed';
}

/** A queue's policy as Redis holds it, every field set. */
export interface ResolvedQueuePolicy {
  keepCompletedCount: number;
  keepCompletedAgeMs: number;
  keepCancelledCount: number;
  maxErrors: number;
  maxWaiting: number;
  priorityAgingMs: number;
  eventsMaxLen: number;
  maxRunning: number;
  /** Starts per `rateMs` for the queue (0 = no limit). */
  rateMax: number;
  rateMs: number;
  groupConcurrency: number;
  /** Starts per `groupRateMs` per group (0 = no limit). */
  groupRateMax: number;
  groupRateMs: number;
  /** 0 strict, 1 relaxed. */
  groupOrder: number;
}

type PolicyOption = keyof ResolvedQueuePolicy;
const FIELD = Object.fromEntries(POLICY_FIELDS.map((f) => [f.option, f])) as Record<PolicyOption, (typeof POLICY_FIELDS)[number]>;

/** Validates a policy; returns the `meta` fields to set. Throws {@link InvalidOptionError} naming the option. */
export function policyFields(policy: unknown): { field: string; value: number }[] {
  const p = checkObject<QueuePolicy>('policy', policy);
  checkKnownKeys('policy', p, ['keepCompleted', 'keepCancelled', 'maxErrors', 'maxWaiting', 'priorityAgingMs', 'eventsMaxLen', 'maxRunning', 'rateLimit', 'groups']);
  const out: { field: string; value: number }[] = [];
  const put = (option: PolicyOption, name: string, value: unknown): void => {
    const f = FIELD[option];
    out.push({ field: f.field, value: checkInt(name, value, f.min, f.max) });
  };
  if (p.keepCompleted !== undefined) {
    if (p.keepCompleted === true) {
      put('keepCompletedCount', 'policy.keepCompleted', 1000);
      put('keepCompletedAgeMs', 'policy.keepCompleted', 0);
    } else if (p.keepCompleted === false) {
      put('keepCompletedCount', 'policy.keepCompleted', 0);
      put('keepCompletedAgeMs', 'policy.keepCompleted', 0);
    } else {
      const k = checkObject<{ count?: number; ageMs?: number }>('policy.keepCompleted', p.keepCompleted);
      if (typeof p.keepCompleted !== 'object') throw new InvalidOptionError('policy.keepCompleted', 'expected true, false or { count, ageMs }');
      checkKnownKeys('policy.keepCompleted', k, ['count', 'ageMs']);
      put('keepCompletedCount', 'policy.keepCompleted.count', k.count ?? 1000);
      if (k.count === 0) throw new InvalidOptionError('policy.keepCompleted.count', 'expected at least 1 (use keepCompleted: false to keep none)');
      put('keepCompletedAgeMs', 'policy.keepCompleted.ageMs', k.ageMs ?? 0);
    }
  }
  if (p.keepCancelled !== undefined) put('keepCancelledCount', 'policy.keepCancelled', p.keepCancelled);
  if (p.maxErrors !== undefined) put('maxErrors', 'policy.maxErrors', p.maxErrors);
  if (p.maxWaiting !== undefined) put('maxWaiting', 'policy.maxWaiting', p.maxWaiting);
  if (p.priorityAgingMs !== undefined) put('priorityAgingMs', 'policy.priorityAgingMs', p.priorityAgingMs);
  if (p.eventsMaxLen !== undefined) put('eventsMaxLen', 'policy.eventsMaxLen', p.eventsMaxLen);
  if (p.maxRunning !== undefined) put('maxRunning', 'policy.maxRunning', p.maxRunning);
  // a rate limit is two fields: its max and its interval
  const putRate = (max: PolicyOption, ms: PolicyOption, name: string, value: unknown): void => {
    const r = rateLimit(name, value);
    put(max, `${name}.max`, r.max);
    put(ms, `${name}.intervalMs`, r.intervalMs);
  };
  if (p.rateLimit !== undefined) putRate('rateMax', 'rateMs', 'policy.rateLimit', p.rateLimit);
  if (p.groups !== undefined) {
    const g = checkObject<GroupPolicy>('policy.groups', p.groups);
    checkKnownKeys('policy.groups', g, ['concurrency', 'rateLimit', 'order']);
    if (g.concurrency !== undefined) put('groupConcurrency', 'policy.groups.concurrency', g.concurrency);
    if (g.rateLimit !== undefined) putRate('groupRateMax', 'groupRateMs', 'policy.groups.rateLimit', g.rateLimit);
    if (g.order !== undefined) {
      if (g.order !== 'strict' && g.order !== 'relaxed') throw new InvalidOptionError('policy.groups.order', `expected 'strict' or 'relaxed', got ${JSON.stringify(String(g.order)).slice(0, 40)}`);
      put('groupOrder', 'policy.groups.order', g.order === 'strict' ? 0 : 1);
    }
  }
  return out;
}

/**
 * Validates a rate limit (`false` = none: max 0, the interval left at its
 * default). Throws {@link InvalidOptionError} naming `name.max` or `name.intervalMs`.
 */
export function rateLimit(name: string, value: unknown): { max: number; intervalMs: number } {
  if (value === false) return { max: 0, intervalMs: 1000 };
  const r = checkObject<RateLimit>(name, value);
  if (typeof value !== 'object') throw new InvalidOptionError(name, 'expected { max, intervalMs } or false');
  checkKnownKeys(name, r, ['max', 'intervalMs']);
  return { max: checkInt(`${name}.max`, r.max, 1, 1_000_000_000), intervalMs: checkInt(`${name}.intervalMs`, r.intervalMs, 1, 315_360_000_000) };
}

/** The `meta` fields a policy lives in, in the order {@link readPolicy} expects their values. */
export const POLICY_META_FIELDS: readonly string[] = POLICY_FIELDS.map((f) => f.field);

/** Builds the resolved policy from the values of {@link POLICY_META_FIELDS} (null = unset: the default). */
export function readPolicy(values: readonly (string | null)[]): ResolvedQueuePolicy {
  const out = {} as Record<PolicyOption, number>;
  POLICY_FIELDS.forEach((f, i) => {
    const v = values[i];
    out[f.option] = v === null || v === undefined || v === '' ? f.default : Number(v);
  });
  return out;
}
