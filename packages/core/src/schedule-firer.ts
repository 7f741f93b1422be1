import type { RedisConnection } from './connection.js';
import { ResultCode } from './codes.js';
import { ScheduleError } from './errors.js';
import { log } from './log.js';
import { Occurrences } from './occurrences.js';
import type { DueSchedule } from './replies.js';
import type { Scripts } from './scripts.js';
import {
  decodeScheduleState,
  decodeSpec,
  jobOpts,
  occurrenceJobId,
  occurrenceRecord,
  planFiring,
  type StoredSpec,
} from './schedule.js';

/** What one firing round did. */
export interface FireResult {
  /** Jobs made. */
  fired: number;
  /** Ms until the next occurrence of any schedule (0 = none). */
  nextInMs: number;
  /** Due schedules left unfired because they cannot be read (tried again later). */
  held: number;
}

/** Due schedules read per call. */
const BATCH = 100;
/** How long a schedule that cannot fire (unreadable spec) is left alone before it is tried again. */
const HOLD_OFF_MS = 5000;

/**
 * Fires due schedule occurrences for one queue: reads the due schedules
 * (schedule-due), plans each one's firing ({@link planFiring}) and fires it
 * with a compare-and-set (schedule-fire), so any number of firers in any
 * number of processes make one job per occurrence. Workers run one in their
 * lease loop; a standalone `Scheduler` runs one in a loop of its own.
 * Calls made while a round runs share it.
 */
export class ScheduleFirer {
  private round: Promise<FireResult> | undefined;
  /** Parsed timings by schedule id, for the revision they were parsed at. */
  private readonly cache = new Map<string, { rev: number; spec: StoredSpec; occ: Occurrences }>();
  /** Schedules that could not fire, left alone until the time given. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly redis: RedisConnection,
    private readonly scripts: Scripts,
    private readonly error: (err: Error) => void,
  ) {}

  /** Fires every due occurrence; rejects on a Redis error (the caller backs off). */
  fire(): Promise<FireResult> {
    this.round ??= this.run().finally(() => (this.round = undefined));
    return this.round;
  }

  private async run(): Promise<FireResult> {
    let fired = 0;
    let held = 0;
    for (let pass = 0; ; pass++) {
      const sent = performance.now();
      const r = await this.scripts.call(this.redis, 'scheduleDue', { max: BATCH });
      let soonest = r.later;
      let again = r.due.length === BATCH;
      for (const d of r.due) {
        const out = await this.fireOne(d, r.now);
        if (out === 'stale') again = true;
        else if (out !== 'held') {
          fired += out.fired;
          if (out.next > 0 && (soonest === 0 || out.next < soonest)) soonest = out.next;
        } else {
          held++;
          if (soonest === 0 || r.now + HOLD_OFF_MS < soonest) soonest = r.now + HOLD_OFF_MS;
        }
      }
      // another firer won a race, or more were due than one read returns: look again (a few times at most)
      // times are on Redis's clock as the due read saw it: take off what has passed since it was sent
      const passed = performance.now() - sent;
      if (!again || pass >= 3) return { fired, held, nextInMs: soonest === 0 ? 0 : Math.max(1, Math.floor(soonest - r.now - passed)) };
    }
  }

  private async fireOne(d: DueSchedule, now: number): Promise<{ fired: number; next: number } | 'stale' | 'held'> {
    const until = this.held.get(d.id);
    if (until !== undefined && Date.now() < until) return 'held';
    if (d.spec.length === 0 || d.state.length === 0) return 'stale'; // removed between the reads
    let spec: StoredSpec;
    let occ: Occurrences;
    const state = decodeScheduleState(d.state);
    try {
      const hit = this.cache.get(d.id);
      if (hit && hit.rev === state.rev) ({ spec, occ } = hit);
      else {
        spec = decodeSpec(d.spec);
        occ = new Occurrences(spec);
        if (this.cache.size >= 1000) this.cache.clear();
        this.cache.set(d.id, { rev: state.rev, spec, occ });
      }
    } catch (err) {
      this.held.set(d.id, Date.now() + HOLD_OFF_MS);
      this.error(new ScheduleError(d.id, `cannot fire: ${(err as Error).message}`, { cause: err }));
      return 'held';
    }
    this.held.delete(d.id);
    const plan = planFiring(spec, occ, d.next, now);
    const opts = jobOpts(spec.job);
    const reply = await this.scripts.call(this.redis, 'scheduleFire', {
      id: d.id,
      rev: state.rev,
      expected: d.next,
      nextMs: plan.next,
      skipped: plan.skipped,
      limit: spec.limit,
      jobs: plan.fire.map((at) => ({ id: occurrenceJobId(d.id, at), occurrence: at, opts, record: occurrenceRecord(d.id, spec, at) })),
    });
    if (reply.code === ResultCode.STALE) return 'stale';
    let made = 0;
    let refused = 0;
    for (const j of reply.jobs) {
      if (j.code === ResultCode.QUEUE_FULL) refused++;
      else if (j.code === ResultCode.OK) made++;
    }
    if (plan.skipped > 0) log.schedules('schedule %s: %d missed occurrence(s) passed over (missed: %s)', d.id, plan.skipped, spec.missed);
    if (refused > 0) this.error(new ScheduleError(d.id, `${refused} occurrence(s) refused: the queue is full (its policy's maxWaiting); they are counted in the schedule's refused runs`));
    return { fired: made, next: plan.next };
  }
}
