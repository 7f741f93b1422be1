import {
  DecodeError,
  Occurrences,
  ResultCode,
  ScheduleError,
  decodeData,
  decodeScheduleState,
  decodeSpec,
  encodeSpec,
  timingFingerprint,
  type MissedPolicy,
  type QueueKeys,
  type RedisConnection,
  type Scripts,
  type StoredSpec,
} from '@kyoo/core';
import { execValues } from './exec.js';
import type { ResolvedDefaults } from './job-options.js';
import { checkScheduleId, resolveSpec, type ScheduleSpec } from './schedule-spec.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';

/** A schedule as `get()` and `list()` show it: its spec and how it has run. */
export interface ScheduleInfo<T = unknown> {
  id: string;
  cron?: string;
  tz?: string;
  everyMs?: number;
  /** ms since epoch */
  startAt?: number;
  /** ms since epoch */
  endAt?: number;
  limit?: number;
  missed: MissedPolicy;
  toleranceMs: number;
  maxMissed: number;
  /** The data of each occurrence's job; `undefined` with `decodeError` set when it cannot be decoded. */
  data: T | undefined;
  decodeError?: string;
  /** The options each occurrence's job gets. */
  job: { attempts: number; timeoutMs: number; priority: number; dedupKey?: string };
  paused: boolean;
  /** Past its `endAt` or `limit`: it fires no more. */
  ended: boolean;
  /** The next occurrence (ms since epoch), `null` when paused or ended. */
  nextRunAt: number | null;
  /** The last occurrence handled (ms since epoch), `null` before the first. */
  lastRunAt: number | null;
  /** When it last fired (ms, Redis clock), `null` before the first. */
  lastFiredAt: number | null;
  /** The job of the last occurrence fired (or the job that held its dedup key), `null` before the first. */
  lastJobId: string | null;
  /** Occurrences fired so far (the ones `limit` counts). */
  runs: number;
  /** Occurrences the missed-run policy passed over. */
  skipped: number;
  /** Occurrences a full queue refused (its policy's `maxWaiting`). */
  refused: number;
  /** Revision: bumped by every change of spec, pause or resume. */
  revision: number;
  createdAt: number;
  updatedAt: number;
}

/** What {@link Schedules.upsert} did. */
export interface UpsertResult {
  /** `created`, `updated`, or `unchanged` (the same spec was stored already: nothing was written). */
  outcome: 'created' | 'updated' | 'unchanged';
  revision: number;
}

/**
 * A queue's schedules (`queue.schedules`): cron or interval specs, each
 * occurrence made into exactly one job by whichever worker (or standalone
 * {@link Scheduler}) fires it first.
 *
 * @example
 * await queue.schedules.upsert('cleanup', { everyMs: 60_000, data: { olderThanDays: 30 } })
 * const [s] = await queue.schedules.list() // { id: 'cleanup', nextRunAt: ..., lastJobId: ..., ... }
 */
export class Schedules<T = unknown> {
  constructor(
    private readonly redis: () => RedisConnection,
    private readonly keys: QueueKeys,
    private readonly scripts: Scripts,
    private readonly queue: { name: string; prefix: string; defaults: ResolvedDefaults; maxPayloadBytes: number },
  ) {}

  /**
   * Creates or changes a schedule. Validates everything first (an
   * {@link InvalidOptionError} names the field; nothing is written). Upserting
   * the stored spec again changes nothing, so every process may upsert its
   * schedules at start-up. A change takes effect from the next occurrence.
   */
  async upsert(id: string, spec: ScheduleSpec<T>): Promise<UpsertResult> {
    checkScheduleId(id);
    const now = await this.now();
    const stored = resolveSpec(spec, this.queue.defaults, this.queue.maxPayloadBytes, now);
    const [code, revision] = await this.scripts.call(this.redis(), 'scheduleUpsert', {
      id,
      spec: encodeSpec(stored),
      timing: timingFingerprint(stored),
      nextMs: new Occurrences(stored).nextAfter(now),
      limit: stored.limit,
    });
    const outcome = code === ResultCode.DUPLICATE ? 'unchanged' : revision === 1 ? 'created' : 'updated';
    return { outcome, revision: revision! };
  }

  /** One schedule, or `null` when there is none with that id. */
  async get(id: string): Promise<ScheduleInfo<T> | null> {
    checkScheduleId(id);
    const multi = this.redis().multi().hgetBuffer(this.keys.schedules, id).hgetBuffer(this.keys.schedule_state, id).zscore(this.keys.schedule_next, id);
    const [spec, state, next] = (await execValues(multi)) as [Buffer | null, Buffer | null, string | null];
    if (!spec || !state) return null;
    return info(id, spec, state, next);
  }

  /** Every schedule of the queue, by id. */
  async list(): Promise<ScheduleInfo<T>[]> {
    const multi = this.redis().multi().hgetallBuffer(this.keys.schedules).hgetallBuffer(this.keys.schedule_state).zrange(this.keys.schedule_next, 0, -1, 'WITHSCORES');
    const [specs, states, nexts] = (await execValues(multi)) as [Record<string, Buffer>, Record<string, Buffer>, string[]];
    const next = new Map<string, string>();
    for (let i = 0; i + 1 < nexts.length; i += 2) next.set(nexts[i]!, nexts[i + 1]!);
    const out: ScheduleInfo<T>[] = [];
    for (const id of Object.keys(specs).sort()) {
      const state = states[id];
      if (state) out.push(info(id, specs[id]!, state, next.get(id) ?? null));
    }
    return out;
  }

  /** Deletes a schedule: nothing fires from the moment this resolves (jobs it made stay). False when there was none. */
  async remove(id: string): Promise<boolean> {
    checkScheduleId(id);
    return (await this.scripts.call(this.redis(), 'scheduleRemove', { id })) === ResultCode.OK;
  }

  /** Pauses a schedule: nothing fires from the moment this resolves. False when there is no such schedule. */
  async pause(id: string): Promise<boolean> {
    checkScheduleId(id);
    return (await this.scripts.call(this.redis(), 'schedulePause', { id, paused: true, rev: 0, nextMs: 0 })) === ResultCode.OK;
  }

  /**
   * Resumes a paused schedule from its first occurrence after now
   * (occurrences while it was paused do not run). False when there is no such schedule.
   */
  async resume(id: string): Promise<boolean> {
    checkScheduleId(id);
    for (let tries = 0; ; tries++) {
      const multi = this.redis().multi().hgetBuffer(this.keys.schedules, id).hgetBuffer(this.keys.schedule_state, id);
      const [spec, state] = (await execValues(multi)) as [Buffer | null, Buffer | null];
      if (!spec || !state) return false;
      const s = decodeSpec(spec);
      const now = await this.now();
      const code = await this.scripts.call(this.redis(), 'schedulePause', {
        id,
        paused: false,
        rev: decodeScheduleState(state).rev,
        nextMs: new Occurrences(s).nextAfter(now),
      });
      if (code !== ResultCode.STALE) return code === ResultCode.OK;
      // STALE: changed meanwhile (an upsert or another resume); read it again, a few times at most
      if (tries >= 10) throw new ScheduleError(id, 'resume gave up: the schedule kept changing while it was read');
    }
  }

  /**
   * Starts a standalone {@link Scheduler} for this queue, for deployments
   * where producers own the schedules (workers fire them too, so most
   * deployments need none). Close it with `scheduler.close()`.
   */
  run(options: Omit<SchedulerOptions, 'connection' | 'prefix'> = {}): Scheduler {
    return new Scheduler(this.queue.name, { ...options, connection: this.redis(), prefix: this.queue.prefix });
  }

  /** Redis's time, read where the queue lives. */
  private async now(): Promise<number> {
    return (await this.scripts.call(this.redis(), 'scheduleDue', { max: 0 })).now;
  }
}

function info<T>(id: string, specBytes: Buffer, stateBytes: Buffer, next: string | null): ScheduleInfo<T> {
  let s: StoredSpec;
  try {
    s = decodeSpec(specBytes);
  } catch (err) {
    throw new DecodeError(`schedule ${id}: ${(err as Error).message}`, { cause: err });
  }
  const st = decodeScheduleState(stateBytes);
  const out: ScheduleInfo<T> = {
    id,
    missed: s.missed,
    toleranceMs: s.toleranceMs,
    maxMissed: s.maxMissed,
    data: undefined,
    job: { attempts: s.job.attempts, timeoutMs: s.job.timeoutMs, priority: s.job.priority },
    paused: st.paused,
    ended: st.ended,
    nextRunAt: next === null ? null : Number(next),
    lastRunAt: st.lastOccurrence || null,
    lastFiredAt: st.firedAt || null,
    lastJobId: st.lastJobId || null,
    runs: st.count,
    skipped: st.skipped,
    refused: st.refused,
    revision: st.rev,
    createdAt: st.createdAt,
    updatedAt: st.updatedAt,
  };
  if (s.cron) [out.cron, out.tz] = [s.cron, s.tz];
  else out.everyMs = s.everyMs;
  if (s.startAt) out.startAt = s.startAt;
  if (s.endAt) out.endAt = s.endAt;
  if (s.limit) out.limit = s.limit;
  if (s.job.dedupKey) out.job.dedupKey = s.job.dedupKey;
  try {
    out.data = decodeData(s.data, 'schedule data') as T;
  } catch (err) {
    out.decodeError = (err as Error).message;
  }
  return out;
}
