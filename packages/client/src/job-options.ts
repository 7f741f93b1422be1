import {
  InvalidOptionError,
  JOB_DEFAULTS,
  MAX_DURATION_MS,
  PayloadTooLargeError,
  checkInt,
  checkKnownKeys,
  checkGroup,
  checkObject,
  encodeData,
  encodeRecordHeader,
  frameRecord,
  resolveBackoff,
  type BackoffOptions,
  type ResolvedBackoff,
  type TraceContext,
} from '@kyoo/core';

/** Options of one job, given to `add()` (or as a queue's `defaultJobOptions`). */
export interface JobOptions {
  /**
   * Your own id for the job (1–256 characters without control characters,
   * not all digits: digit-only ids are generated ones). Adding a job whose id exists already changes nothing
   * and resolves with that id, so adds with ids are idempotent.
   */
  jobId?: string;
  /** Run no sooner than this many ms from now (at most about 10 years). @defaultValue `0` */
  delayMs?: number;
  /**
   * Run no sooner than this time (a `Date` or ms since epoch); a time in the
   * past runs now. At most about 10 years ahead, like `delayMs`. Exclusive with `delayMs`.
   */
  runAt?: Date | number;
  /** Runs before the job goes to the dead-letter queue (a lease is a run). @defaultValue `3` */
  attempts?: number;
  /** Wait between retries. @defaultValue `{ type: 'exponential', delayMs: 1000, jitter: 0.2 }` */
  backoff?: BackoffOptions;
  /** Fail the run if the handler takes longer than this (0 = the worker's `timeoutMs`). @defaultValue `0` */
  timeoutMs?: number;
  /**
   * An integer from -1000 to 1000: higher runs first, jobs of one priority in
   * the order added, kept across retries and replays. Waiting counts too (the
   * queue policy's `priorityAgingMs` per level), so no job starves.
   * Jobs without a priority (0) cost what they always did.
   * @defaultValue `0`
   */
  priority?: number;
  /**
   * Deduplication: while a job holds `key`, another add with the same key
   * makes no new job; it resolves with the holder's id and `deduplicated: true`.
   * @example
   * await queue.add({ userId }, { dedup: { key: `welcome:${userId}` } })
   */
  dedup?: DedupOptions;
  /**
   * The job's group (1-256 characters without control characters), say a
   * tenant or a user id: jobs of one group run in the order added, one at a
   * time unless the group's concurrency says more, and groups take turns, so
   * a group with 10,000 jobs waiting does not hold up one with 10 (see the
   * queue policy's `groups` and `queue.groups.set()`). Not with `priority`:
   * a group runs in the order added.
   * @example
   * await queue.add({ invoiceId }, { group: `tenant:${tenantId}` })
   */
  group?: string;
}

/** How {@link JobOptions.dedup} decides that an add is a duplicate. */
export interface DedupOptions {
  /** The deduplication key (1-512 characters). */
  key: string;
  /**
   * - `'until-complete'`: the key is held until the job completes, is
   *   dead-lettered, cancelled or removed (and at most `ttlMs` if given);
   * - `'window'`: held for `ttlMs` from the first add, however the job ends
   *   (like SQS's five-minute deduplication);
   * - `'debounce'`: the job runs `ttlMs` after the last add; an add within that
   *   time, while the job still waits, replaces its data and pushes its run-at.
   * @defaultValue `'until-complete'`
   */
  mode?: 'until-complete' | 'window' | 'debounce';
  /** The window in ms (required for `window` and `debounce`; for `until-complete` a safety bound, 0 = none). */
  ttlMs?: number;
}

const KNOWN = ['jobId', 'delayMs', 'runAt', 'attempts', 'backoff', 'timeoutMs', 'priority', 'dedup', 'group'] as const;
const DEDUP_MODES = { 'until-complete': 1, window: 2, debounce: 3 } as const;
/** Priorities allowed (documented in the README). */
export const MAX_PRIORITY = 1000;

/** Job defaults after validation (a queue's `defaultJobOptions` over the library defaults). */
export interface ResolvedDefaults {
  attempts: number;
  backoff: ResolvedBackoff;
  timeoutMs: number;
}

/** Validates a queue's `defaultJobOptions`. */
export function resolveDefaults(value: unknown): ResolvedDefaults {
  const o = checkObject<JobOptions>('defaultJobOptions', value);
  checkKnownKeys('defaultJobOptions', o, ['attempts', 'backoff', 'timeoutMs']);
  return {
    attempts: checkInt('defaultJobOptions.attempts', o.attempts ?? JOB_DEFAULTS.attempts, 1, 1_000_000),
    backoff: resolveBackoff('defaultJobOptions.backoff', o.backoff),
    timeoutMs: checkInt('defaultJobOptions.timeoutMs', o.timeoutMs ?? JOB_DEFAULTS.timeoutMs, 0, MAX_DURATION_MS),
  };
}

/** A validated job, ready to be sent to the enqueue script. */
export interface PreparedJob {
  id: string;
  delayMs: number;
  priority: number;
  dedupKey: string;
  dedupMode: number;
  dedupMs: number;
  /** '' = none. */
  group: string;
  record: Buffer;
}

/** The last header of a job with default options: for which defaults and millisecond (see prepareJob). */
let plainHeader: { defaults: ResolvedDefaults | undefined; at: number; header: Uint8Array } = { defaults: undefined, at: -1, header: new Uint8Array(0) };

/**
 * Validates one job and encodes its record, with `trace` (the context of the
 * span that adds it) in the record's header when given. Throws
 * {@link InvalidOptionError} or {@link PayloadTooLargeError}; nothing is
 * written before this succeeds.
 */
export function prepareJob(data: unknown, opts: unknown, defaults: ResolvedDefaults, maxPayloadBytes: number, trace?: TraceContext): PreparedJob {
  const o = checkObject<JobOptions>('options', opts);
  checkKnownKeys('options', o, KNOWN);
  let id = '';
  if (o.jobId !== undefined) {
    if (typeof o.jobId !== 'string' || o.jobId.length === 0 || o.jobId.length > 256 || /^\d+$/.test(o.jobId) || /[\x00-\x1f]/.test(o.jobId)) {
      throw new InvalidOptionError(
        'jobId',
        'expected a string of 1-256 characters, not all digits (digit-only ids are generated) and without control characters',
      );
    }
    id = o.jobId;
  }
  let delayMs = 0;
  if (o.delayMs !== undefined && o.runAt !== undefined) {
    throw new InvalidOptionError('runAt', 'give either delayMs or runAt, not both');
  }
  if (o.delayMs !== undefined) delayMs = checkInt('delayMs', o.delayMs, 0, MAX_DURATION_MS);
  if (o.runAt !== undefined) {
    const at = o.runAt instanceof Date ? o.runAt.getTime() : o.runAt;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new InvalidOptionError('runAt', 'expected a valid Date or a number of ms since epoch');
    }
    const ahead = Math.round(at - Date.now());
    if (ahead > MAX_DURATION_MS) {
      throw new InvalidOptionError('runAt', `expected a time at most ${MAX_DURATION_MS} ms (about 10 years) ahead, like delayMs; got ${ahead} ms ahead`);
    }
    delayMs = Math.max(0, ahead);
  }
  const attempts = o.attempts === undefined ? defaults.attempts : checkInt('attempts', o.attempts, 1, 1_000_000);
  const backoff = o.backoff === undefined ? defaults.backoff : resolveBackoff('backoff', o.backoff, defaults.backoff);
  const timeoutMs = o.timeoutMs === undefined ? defaults.timeoutMs : checkInt('timeoutMs', o.timeoutMs, 0, MAX_DURATION_MS);
  const priority = o.priority === undefined ? 0 : checkInt('priority', o.priority, -MAX_PRIORITY, MAX_PRIORITY);
  let dedupKey = '';
  let dedupMode = 0;
  let dedupMs = 0;
  if (o.dedup !== undefined) {
    const d = checkObject<DedupOptions>('dedup', o.dedup);
    checkKnownKeys('dedup', d, ['key', 'mode', 'ttlMs']);
    if (typeof d.key !== 'string' || d.key.length === 0 || d.key.length > 512 || /[\x00-\x1f]/.test(d.key)) {
      throw new InvalidOptionError('dedup.key', 'expected a string of 1-512 characters without control characters');
    }
    const mode = d.mode ?? 'until-complete';
    if (!Object.prototype.hasOwnProperty.call(DEDUP_MODES, mode)) {
      throw new InvalidOptionError('dedup.mode', `expected 'until-complete', 'window' or 'debounce', got ${JSON.stringify(String(mode)).slice(0, 40)}`);
    }
    dedupKey = d.key;
    dedupMode = DEDUP_MODES[mode];
    dedupMs = mode === 'until-complete' ? checkInt('dedup.ttlMs', d.ttlMs ?? 0, 0, MAX_DURATION_MS) : checkInt('dedup.ttlMs', d.ttlMs, 1, MAX_DURATION_MS);
  }
  const group = o.group === undefined ? '' : checkGroup('group', o.group);
  if (group !== '' && priority !== 0) {
    throw new InvalidOptionError('priority', 'a job with a group runs in its group\'s order: give either group or priority, not both');
  }

  const payload = encodeData('data', data);
  if (payload.length > maxPayloadBytes) throw new PayloadTooLargeError(payload.length, maxPayloadBytes);

  const createdAt = Date.now();
  // the header of a job with the queue's default options is the same for every such job added in
  // the same millisecond: encoded once for a batch
  const plain = o.attempts === undefined && o.backoff === undefined && o.timeoutMs === undefined && priority === 0 &&
    dedupKey === '' && group === '' && trace === undefined;
  let header: Uint8Array;
  if (plain && plainHeader.defaults === defaults && plainHeader.at === createdAt) {
    header = plainHeader.header;
  } else {
    header = encodeRecordHeader({
      attempts,
      backoffType: backoff.type,
      backoffMs: backoff.delayMs,
      backoffMaxMs: backoff.maxDelayMs,
      jitter: backoff.jitter,
      createdAt,
      timeoutMs,
      priority,
      dedupKey,
      dedupMode,
      traceparent: trace?.traceparent ?? '',
      tracestate: trace?.tracestate ?? '',
      group,
    });
    // a copy: the encoder may hand out a view of a buffer it reuses
    if (plain) plainHeader = { defaults, at: createdAt, header: Buffer.from(header) };
  }
  const record = frameRecord(header, payload);
  return { id, delayMs, priority, dedupKey, dedupMode, dedupMs, group, record };
}
