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
}

type PolicyOption = keyof ResolvedQueuePolicy;
const FIELD = Object.fromEntries(POLICY_FIELDS.map((f) => [f.option, f])) as Record<PolicyOption, (typeof POLICY_FIELDS)[number]>;

/** Validates a policy; returns the `meta` fields to set. Throws {@link InvalidOptionError} naming the option. */
export function policyFields(policy: unknown): { field: string; value: number }[] {
  const p = checkObject<QueuePolicy>('policy', policy);
  checkKnownKeys('policy', p, ['keepCompleted', 'keepCancelled', 'maxErrors', 'maxWaiting', 'priorityAgingMs', 'eventsMaxLen']);
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
  return out;
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
