import {
  InvalidOptionError,
  MAX_DURATION_MS,
  SPEC_VERSION,
  checkInt,
  checkKnownKeys,
  checkObject,
  decodeRecord,
  resolveTiming,
  type MissedPolicy,
  type StoredSpec,
} from '@kyoo/core';
import { prepareJob, type JobOptions, type ResolvedDefaults } from './job-options.js';

/** Options of the job each occurrence makes. */
export type ScheduleJobOptions = Pick<JobOptions, 'attempts' | 'backoff' | 'timeoutMs' | 'priority' | 'dedup' | 'group'>;

/**
 * A schedule: when it fires (a `cron` expression or a fixed `everyMs`), the
 * job each occurrence makes, and what happens to occurrences that passed
 * while no worker or scheduler ran.
 *
 * @example
 * await queue.schedules.upsert('nightly-digest', {
 *   cron: '0 30 2 * * *', // 02:30:00 every day
 *   tz: 'Europe/Berlin',
 *   data: { kind: 'digest' },
 *   missed: 'latest',
 * })
 */
export interface ScheduleSpec<T = unknown> {
  /**
   * A cron expression in the schedule's time zone: 5 fields (minute hour
   * day-of-month month day-of-week) or 6 with seconds first. Exclusive with `everyMs`.
   */
  cron?: string;
  /** IANA time zone of `cron` (occurrences follow its daylight-saving rules; see the README). @defaultValue `'UTC'` */
  tz?: string;
  /**
   * A fixed interval in ms (100 ms to 10 years), real time: occurrences are
   * `startAt + k × everyMs`, or without `startAt` the multiples of `everyMs`
   * since the Unix epoch (every 60000 fires on the minute). Exclusive with `cron`.
   */
  everyMs?: number;
  /** No occurrence before this time (a `Date` or ms since epoch). */
  startAt?: Date | number;
  /** No occurrence after this time; must be in the future. */
  endAt?: Date | number;
  /** Occurrences to fire in all; the schedule ends after the last. */
  limit?: number;
  /**
   * Occurrences that passed while nothing fired (no worker or scheduler ran):
   * `'skip'` makes no job for them, `'latest'` makes one job for the latest
   * of them (unless an occurrence is on time anyway), `'all'` makes one per
   * occurrence, the newest `maxMissed`. An occurrence less than `toleranceMs`
   * late is on time and always fires.
   * @defaultValue `'latest'`
   */
  missed?: MissedPolicy;
  /** How late an occurrence may fire and still count as on time (ms, at least 100). @defaultValue `1000` */
  toleranceMs?: number;
  /** With `missed: 'all'`: missed occurrences made into jobs at most (the newest). @defaultValue `100` */
  maxMissed?: number;
  /** The data of each occurrence's job. */
  data?: T;
  /** Options of each occurrence's job (not `jobId`, `delayMs` or `runAt`: an occurrence's job runs at the occurrence, with an id derived from it). */
  job?: ScheduleJobOptions;
}

/** Schedule spec defaults, in one place. */
export const SCHEDULE_DEFAULTS = Object.freeze({ missed: 'latest' as MissedPolicy, toleranceMs: 1000, maxMissed: 100 });
/** Shortest toleranceMs: a firing is a few ms late at best, so less would count every occurrence as missed. */
export const MIN_TOLERANCE_MS = 100;
/** Most missed occurrences `missed: 'all'` may make into jobs in one firing. */
export const MAX_MISSED = 1000;

const KNOWN = ['cron', 'tz', 'everyMs', 'startAt', 'endAt', 'limit', 'missed', 'toleranceMs', 'maxMissed', 'data', 'job'] as const;
const JOB_KNOWN = ['attempts', 'backoff', 'timeoutMs', 'priority', 'dedup', 'group'] as const;
const MISSED = ['skip', 'latest', 'all'] as const;

/** Checks a schedule id: 1-200 characters without control characters. */
export function checkScheduleId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200 || /[\x00-\x1f]/.test(id)) {
    throw new InvalidOptionError('id', 'expected a schedule id: a string of 1-200 characters without control characters');
  }
  return id;
}

/**
 * Validates a spec and builds what is stored. Throws {@link InvalidOptionError}
 * naming the field (`cron`, `tz`, `job.attempts`, ...) before anything is written.
 */
export function resolveSpec(value: unknown, defaults: ResolvedDefaults, maxPayloadBytes: number, now: number): StoredSpec {
  if (value === undefined) throw new InvalidOptionError('spec', 'expected a schedule spec with cron or everyMs');
  const o = checkObject<ScheduleSpec>('spec', value);
  checkKnownKeys('spec', o, KNOWN);
  const timing = resolveTiming(o);
  if (timing.endAt !== 0 && timing.endAt <= now) {
    throw new InvalidOptionError('endAt', 'is in the past: the schedule would never fire');
  }
  const limit = o.limit === undefined ? 0 : checkInt('limit', o.limit, 1, 1_000_000_000);
  const missed = o.missed ?? SCHEDULE_DEFAULTS.missed;
  if (!MISSED.includes(missed)) throw new InvalidOptionError('missed', `expected 'skip', 'latest' or 'all', got ${JSON.stringify(String(missed)).slice(0, 40)}`);
  if (o.maxMissed !== undefined && missed !== 'all') {
    throw new InvalidOptionError('maxMissed', `bounds missed: 'all' only; this schedule has missed: '${missed}'`);
  }
  const toleranceMs = checkInt('toleranceMs', o.toleranceMs ?? SCHEDULE_DEFAULTS.toleranceMs, MIN_TOLERANCE_MS, MAX_DURATION_MS);
  const maxMissed = checkInt('maxMissed', o.maxMissed ?? SCHEDULE_DEFAULTS.maxMissed, 1, MAX_MISSED);
  const jobOpts = checkObject<ScheduleJobOptions>('job', o.job);
  checkKnownKeys('job', jobOpts, JOB_KNOWN);
  if (jobOpts.dedup?.mode === 'debounce') {
    throw new InvalidOptionError('job.dedup.mode', "'debounce' would move occurrences: use 'until-complete' (no overlapping runs) or 'window'");
  }
  let prepared;
  try {
    prepared = prepareJob(o.data, jobOpts, defaults, maxPayloadBytes);
  } catch (err) {
    if (err instanceof InvalidOptionError && err.option !== 'data') {
      throw new InvalidOptionError(`job.${err.option}`, err.message.replace(/^invalid \S+: /, ''));
    }
    throw err;
  }
  const r = decodeRecord(prepared.record);
  return {
    v: SPEC_VERSION,
    ...timing,
    limit,
    missed,
    toleranceMs,
    maxMissed,
    job: {
      attempts: r.attempts,
      backoffType: r.backoffType,
      backoffMs: r.backoffMs,
      backoffMaxMs: r.backoffMaxMs,
      jitter: r.jitter,
      timeoutMs: r.timeoutMs,
      priority: r.priority,
      dedupKey: r.dedupKey,
      dedupMode: r.dedupMode,
      dedupMs: prepared.dedupMs,
      ...(prepared.group !== '' ? { group: prepared.group } : {}),
    },
    data: r.payload,
  };
}
