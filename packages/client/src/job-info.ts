import { decodeData, decodeErrors, decodeProgress, decodeRecord, type JobError, type JobProgress, type QueueKeys, type RedisConnection } from '@kyoo/core';
import { execValues } from './exec.js';

/** Where a job is in its life. */
export type JobState = 'ready' | 'delayed' | 'leased' | 'completed' | 'dead' | 'cancelled';

/** A snapshot of one job, as `getJob()` and the dead-letter listing return it. */
export interface JobInfo<T = unknown, R = unknown> {
  id: string;
  state: JobState;
  /** The payload; `undefined` with `decodeError` set when it cannot be decoded. */
  data: T | undefined;
  /** Set when the record or payload cannot be decoded. */
  decodeError?: string;
  /** Runs started so far (a lease is a run). */
  attemptsMade: number;
  /** Runs allowed before the job is dead-lettered. */
  attempts: number;
  /** Error history, oldest first (at most the worker's `maxErrors`). */
  errors: JobError[];
  /** The newest entry of `errors`. */
  lastError?: JobError;
  /** The handler's result, for completed jobs kept by the worker's `keepCompleted`. */
  result?: R;
  /** When the job was added (producer clock, ms since epoch). */
  createdAt: number;
  /** Its priority (0 = none). */
  priority: number;
  /** Its group key, for a job added with one. */
  group?: string;
  /** For the job of a schedule's occurrence: the schedule's id and the occurrence (ms since epoch). */
  schedule?: { id: string; occurrence: number };
  /** The latest progress a run reported (`job.progress(value)`), kept until the job is deleted or replayed. */
  progress?: JobProgress;
  /** Run-at time of a delayed job, lease deadline of a leased one, time of death or completion (ms, Redis clock). */
  stateSince?: number;
  /** For a leased job: its fencing token, the id of the worker holding it (`null` when the token does not say), and the lease's deadline. */
  lease?: { token: string; worker: string | null; expiresAt: number };
  /** The per-job handler timeout (ms) it was added with; 0 = the worker's default. */
  timeoutMs?: number;
  /** The retry backoff it was added with. */
  backoff?: { type: 'fixed' | 'exponential'; delayMs: number; maxDelayMs: number; jitter: number };
  /** Its dedup key, for a job added with one. */
  dedupKey?: string;
  /** The trace id of the span that added it (W3C trace context), for a traced add. */
  traceId?: string;
}

/** What {@link readJob} reads besides the job. */
export interface ReadJobOptions {
  /** Read the kept result too. @defaultValue `true` */
  result?: boolean;
}

/** Reads one job atomically (MULTI); `null` when no such job exists. */
export async function readJob(redis: RedisConnection, keys: QueueKeys, id: string, options: ReadJobOptions = {}): Promise<JobInfo | null> {
  const multi = redis
    .multi()
    .hgetBuffer(keys.jobs, id)
    .zscore(keys.leased, id)
    .zscore(keys.delayed, id)
    .zscore(keys.dead, id)
    .zscore(keys.done, id)
    .zscore(keys.cancelled, id)
    .hget(keys.runs, id)
    .hgetBuffer(keys.errors, id)
    .hget(keys.progress, id);
  if (options.result !== false) multi.hgetBuffer(keys.results, id);
  const v = await execValues(multi);
  const raw = v[0] as Buffer | null;
  if (!raw) return null;
  const [leased, delayed, dead, done, cancelled] = (v.slice(1, 6) as (string | null)[]).map((s) => (s === null ? null : Number(s)));
  let state: JobState = 'ready';
  let since: number | null = null;
  if (leased != null) [state, since] = ['leased', leased];
  else if (delayed != null) [state, since] = ['delayed', delayed];
  else if (dead != null) [state, since] = ['dead', dead];
  else if (done != null) [state, since] = ['completed', done];
  else if (cancelled != null) [state, since] = ['cancelled', cancelled];

  const errors = safeErrors(v[7] as Buffer | null);
  const info: JobInfo = { id, state, data: undefined, attemptsMade: Number(/^\d+/.exec(String(v[6] ?? '0'))?.[0] ?? 0), attempts: 0, errors, createdAt: 0, priority: 0 };
  if (since !== null) info.stateSince = Math.floor(since);
  if (state === 'leased' && typeof v[6] === 'string') info.lease = { token: v[6], worker: leaseHolder(v[6]), expiresAt: Math.floor(leased!) };
  const last = errors[errors.length - 1];
  if (last) info.lastError = last;
  const progress = decodeProgress(v[8] as string | null);
  if (progress) info.progress = progress;
  try {
    const record = decodeRecord(raw);
    info.attempts = record.attempts;
    info.createdAt = record.createdAt;
    info.priority = record.priority;
    if (record.group) info.group = record.group;
    if (record.schedule) info.schedule = { id: record.schedule, occurrence: record.occurrence };
    info.timeoutMs = record.timeoutMs;
    info.backoff = { type: record.backoffType, delayMs: record.backoffMs, maxDelayMs: record.backoffMaxMs, jitter: record.jitter };
    if (record.dedupKey) info.dedupKey = record.dedupKey;
    const trace = /^[0-9a-f]{2}-([0-9a-f]{32})-/.exec(record.traceparent);
    if (trace) info.traceId = trace[1]!;
    info.data = decodeData(record.payload, 'job payload');
  } catch (err) {
    info.decodeError = (err as Error).message;
  }
  const result = (v[9] ?? null) as Buffer | null;
  if (result) {
    try {
      info.result = decodeData(result, 'job result');
    } catch {
      // an unreadable result leaves `result` unset; the job itself is fine
    }
  }
  return info;
}

/** A token "<attempt>:<fence>:<worker id>.<random>" names its worker (workers before 0.1 sent no id). */
function leaseHolder(token: string): string | null {
  return /^\d+:\d+:([A-Za-z0-9_-]+)\./.exec(token)?.[1] ?? null;
}

function safeErrors(bytes: Buffer | null): JobError[] {
  try {
    return decodeErrors(bytes);
  } catch {
    return [{ name: 'DecodeError', message: 'error history could not be decoded', attempt: 0, at: 0 }];
  }
}
