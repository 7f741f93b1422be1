import { decode, encode, encodeRecord } from './codec.js';
import { DecodeError } from './errors.js';
import { Occurrences, type Timing } from './occurrences.js';

/** What a schedule does with occurrences that passed while nothing fired (see {@link planFiring}). */
export type MissedPolicy = 'skip' | 'latest' | 'all';

/** The job options a schedule's jobs are made with (validated by the client, read by every firer). */
export interface ScheduleJob {
  attempts: number;
  backoffType: 'fixed' | 'exponential';
  backoffMs: number;
  backoffMaxMs: number;
  jitter: number;
  timeoutMs: number;
  priority: number;
  dedupKey: string;
  dedupMode: number;
  dedupMs: number;
  /** The group of each occurrence's job ('' or absent = none; absent in specs written before groups). */
  group?: string;
}

/**
 * A schedule as stored in the `schedules` hash: its timing, what to do about
 * missed occurrences, and the job each occurrence makes (options and the
 * encoded data). Encoded as a msgpack map with its fields in this order, so
 * equal specs are equal bytes (schedule-upsert compares bytes).
 */
export interface StoredSpec extends Timing {
  /** Spec format version. */
  v: number;
  /** Occurrences to fire in all (0 = no limit). */
  limit: number;
  missed: MissedPolicy;
  /** An occurrence found later than this is missed (ms). */
  toleranceMs: number;
  /** With `missed: 'all'`, missed occurrences made into jobs at most, the newest kept. */
  maxMissed: number;
  job: ScheduleJob;
  /** The job data, encoded by the data codec. */
  data: Uint8Array;
}

/** Spec format this build writes and reads. */
export const SPEC_VERSION = 1;

/** Encodes a spec (fields in a fixed order: equal specs give equal bytes). */
export function encodeSpec(s: StoredSpec): Buffer {
  const { v, cron, tz, everyMs, startAt, endAt, limit, missed, toleranceMs, maxMissed, job, data } = s;
  const j = job;
  return encode({
    v, cron, tz, everyMs, startAt, endAt, limit, missed, toleranceMs, maxMissed,
    job: {
      attempts: j.attempts, backoffType: j.backoffType, backoffMs: j.backoffMs, backoffMaxMs: j.backoffMaxMs, jitter: j.jitter,
      timeoutMs: j.timeoutMs, priority: j.priority, dedupKey: j.dedupKey, dedupMode: j.dedupMode, dedupMs: j.dedupMs,
      // only when set: a spec without a group keeps the bytes it had before groups (schedule-upsert compares bytes)
      ...(j.group ? { group: j.group } : {}),
    },
    data: Buffer.from(data),
  });
}

/** Decodes a stored spec; throws {@link DecodeError} when it is not one this build can read. */
export function decodeSpec(bytes: Uint8Array): StoredSpec {
  const s = decode(bytes, 'schedule spec') as StoredSpec | null;
  if (typeof s !== 'object' || s === null || typeof s.v !== 'number' || typeof s.job !== 'object' || !(s.data instanceof Uint8Array)) {
    throw new DecodeError('could not decode schedule spec: not a kyoo schedule');
  }
  if (s.v > SPEC_VERSION) throw new DecodeError(`schedule spec version ${s.v} was written by a newer kyoo (this one reads ${SPEC_VERSION})`);
  return s;
}

/** The state the scripts keep per schedule (lua/includes/schedule.lua). */
export interface ScheduleState {
  rev: number;
  paused: boolean;
  ended: boolean;
  /** Occurrences fired so far. */
  count: number;
  /** The last occurrence handled (ms; 0 = none). */
  lastOccurrence: number;
  /** The job of the last occurrence fired ('' = none). */
  lastJobId: string;
  /** When it last fired (ms, Redis clock; 0 = never). */
  firedAt: number;
  /** Occurrences passed over by the missed-run policy. */
  skipped: number;
  /** Occurrences a full queue refused (its policy's maxWaiting). */
  refused: number;
  createdAt: number;
  updatedAt: number;
}

/** Decodes a schedule's state (a msgpack map written by the scripts). */
export function decodeScheduleState(bytes: Uint8Array): ScheduleState {
  const s = decode(bytes, 'schedule state') as Record<string, unknown> | null;
  const num = (k: string): number => (typeof s?.[k] === 'number' ? (s[k] as number) : 0);
  return {
    rev: num('rev'),
    paused: num('paused') === 1,
    ended: num('ended') === 1,
    count: num('count'),
    lastOccurrence: num('last_occ'),
    lastJobId: typeof s?.['last_job'] === 'string' ? (s['last_job'] as string) : '',
    firedAt: num('fired_at'),
    skipped: num('skipped'),
    refused: num('refused'),
    createdAt: num('created_at'),
    updatedAt: num('updated_at'),
  };
}

/** The fingerprint of a spec's timing: when it changes, the next occurrence is computed anew. */
export function timingFingerprint(t: Timing): string {
  return `${t.cron}|${t.tz}|${t.everyMs}|${t.startAt}|${t.endAt}`;
}

/** The id of the job an occurrence makes: the schedule's id and the occurrence time. */
export function occurrenceJobId(scheduleId: string, occurrence: number): string {
  return `${scheduleId}@${occurrence}`;
}

/** What one firing does: the occurrences to make jobs for (oldest first), how many it passes over, the next one. */
export interface FiringPlan {
  fire: number[];
  skipped: number;
  /** The first occurrence after `now` (0 = none: the schedule ends). */
  next: number;
}

/** On-time occurrences made into jobs per firing at most (a short interval with a long tolerance). */
const MAX_ON_TIME = 1000;

/**
 * Decides what firing a schedule whose pending occurrence is `pending` does
 * at `now` (Redis time). Occurrences in [pending, now] are due; those less
 * than `toleranceMs` late are on time and always fire; the older ones are
 * missed, and the policy decides:
 * - `skip`: missed occurrences make no job;
 * - `latest`: when no occurrence is on time, the latest missed one fires
 *   (one run covers the gap);
 * - `all`: missed occurrences fire too, the newest `maxMissed` of them.
 * Occurrences passed over are counted in `skipped`.
 */
export function planFiring(spec: StoredSpec, occ: Occurrences, pending: number, now: number): FiringPlan {
  const next = occ.nextAfter(now);
  if (pending > now) return { fire: [], skipped: 0, next: pending };
  const edge = Math.max(pending, now - spec.toleranceMs);
  const onTime = occ.catchUp(edge, now, MAX_ON_TIME);
  const missed = edge > pending ? occ.catchUp(pending, edge - 1, spec.missed === 'skip' ? 0 : spec.missed === 'latest' ? 1 : spec.maxMissed) : { last: [], total: 0 };
  let fire = onTime.last;
  if (spec.missed === 'all') fire = [...missed.last, ...onTime.last];
  else if (spec.missed === 'latest' && fire.length === 0) fire = missed.last.slice(-1);
  const firedMissed = fire.length - onTime.last.length;
  return { fire, skipped: missed.total - firedMissed + (onTime.total - onTime.last.length), next };
}

/**
 * A job's options as enqueue (and schedule-fire, topic-publish, topic-deliver)
 * take them: '' for most jobs, else
 * `<priority>:<dedup mode>:<dedup ms>:<group bytes>:<group><dedup key>`.
 */
export function jobOpts(j: { priority: number; dedupMode: number; dedupMs: number; dedupKey: string; group?: string | undefined }): string {
  const group = j.group ?? '';
  if (j.priority === 0 && j.dedupMode === 0 && group === '') return '';
  return `${j.priority}:${j.dedupMode}:${j.dedupMs}:${Buffer.byteLength(group)}:${group}${j.dedupKey}`;
}

/** The record of one occurrence's job. */
export function occurrenceRecord(scheduleId: string, spec: StoredSpec, occurrence: number): Buffer {
  const j = spec.job;
  return encodeRecord({
    payload: spec.data,
    attempts: j.attempts,
    backoffType: j.backoffType,
    backoffMs: j.backoffMs,
    backoffMaxMs: j.backoffMaxMs,
    jitter: j.jitter,
    createdAt: Date.now(),
    timeoutMs: j.timeoutMs,
    priority: j.priority,
    dedupKey: j.dedupKey,
    dedupMode: j.dedupMode,
    group: j.group ?? '',
    schedule: scheduleId,
    occurrence,
  });
}
