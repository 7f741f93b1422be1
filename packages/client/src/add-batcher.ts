import { QueueFullError, ResultCode, jobOpts, keySlot, log, type EnqueueOutcome, type OwnedConnection, type Scripts } from '@kyoo/core';
import { checkServerSupports, confirm, type ResolvedDurability } from './durability.js';
import { IdBlocks } from './id-blocks.js';
import type { PreparedJob } from './job-options.js';

/** Jobs per enqueue call: bounded so one call never holds Redis for long. */
export const MAX_BATCH = 1000;
/**
 * Jobs per call of coalesced adds. Redis runs one call while the client writes the next: with 100
 * adds in flight (warm, one process), calls of up to 50 made about 140k jobs/s against about 100k
 * for one call of all that waited, and calls of 25 no more than 50 (a call's own cost grows).
 */
export const ADD_CALL_MAX = 50;

interface Pending {
  job: PreparedJob;
  resolve: (outcome: EnqueueOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces `add()` calls into enqueue script calls: an add made while no
 * call is in flight goes out at once (no tick of waiting: the pickup-latency
 * path); adds made while one is in flight are coalesced with the others of
 * the same tick into calls of up to {@link ADD_CALL_MAX}. Each caller still gets its own id (or error),
 * but Redis pays one script call for the whole batch.
 */
export class AddBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  private readonly inflight = new Set<Promise<void>>();
  private supported: Promise<void> | undefined;
  private readonly ids: IdBlocks;
  /** The queue's Cluster slot, where WAIT must go (the queue's keys share one slot). */
  private readonly slot: number;

  constructor(
    private readonly conn: OwnedConnection,
    private readonly scripts: Scripts,
    private readonly durability: ResolvedDurability | null,
    idsKey: string,
    private readonly queueName: string,
  ) {
    this.ids = new IdBlocks(conn, idsKey);
    this.slot = keySlot(idsKey);
  }

  /** Queues one prepared job for the next flush; rejects with {@link QueueFullError} when the queue is full. */
  add(job: PreparedJob): Promise<EnqueueOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.scheduled) return;
      if (this.inflight.size === 0) {
        this.flush();
        return;
      }
      this.scheduled = true;
      process.nextTick(() => this.flush());
    });
  }

  /**
   * Sends jobs now, in calls of at most {@link MAX_BATCH}; resolves with ids
   * in order. With durability, every call is written first and one WAIT then
   * covers them all, so an unconfirmed write never stops the rest being sent.
   */
  async send(jobs: readonly PreparedJob[]): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < jobs.length; i += MAX_BATCH) {
      const part = jobs.slice(i, i + MAX_BATCH);
      // all or nothing: a full queue refuses the whole call, counting the jobs of later calls too
      const outcomes = await this.call(part, false, jobs.length - i - part.length);
      const refused = outcomes.filter((o) => o.code === ResultCode.QUEUE_FULL).length;
      if (refused > 0) throw new QueueFullError(this.queueName, jobs.length - i);
      ids.push(...outcomes.map((o) => o.id));
    }
    if (this.durability) await confirm(this.conn.redis, this.slot, this.durability, ids);
    return ids;
  }

  /** Resolves once every add made so far has been answered (for close()). */
  async settled(): Promise<void> {
    if (this.scheduled) this.flush();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (let i = 0; i < batch.length; i += ADD_CALL_MAX) {
      const part = batch.slice(i, i + ADD_CALL_MAX);
      const p = this.call(part.map((x) => x.job)).then(
        (outcomes) => part.forEach((x, j) => {
          const o = outcomes[j]!;
          if (o.code === ResultCode.QUEUE_FULL) x.reject(new QueueFullError(this.queueName, 1));
          else x.resolve(o);
        }),
        (err: unknown) => part.forEach((x) => x.reject(err)),
      );
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
  }

  private async call(jobs: readonly PreparedJob[], confirmNow = true, reserve = -1): Promise<EnqueueOutcome[]> {
    const durability = this.durability;
    if (durability) {
      // checked once; a failed check (say, a connection error) is tried again next time
      this.supported ??= checkServerSupports(this.conn.redis, durability).catch((err: unknown) => {
        this.supported = undefined;
        throw err;
      });
      await this.supported;
    }
    const fresh = await this.ids.take(jobs.reduce((n, j) => n + (j.id === '' ? 1 : 0), 0));
    let k = 0;
    const outcomes = await this.scripts.call(this.conn.redis, 'enqueue', {
      allOrNothing: reserve >= 0,
      reserve: Math.max(0, reserve),
      jobs: jobs.map((j) => ({
        id: j.id === '' ? fresh[k++]! : j.id,
        gen: j.id === '',
        delay: j.delayMs,
        opts: jobOpts(j),
        record: j.record,
      })),
    });
    for (const o of outcomes) if (o.code === ResultCode.DUPLICATE) log.client('job %s exists already; left as it was', o.id);
    // WAIT / WAITAOF follow the write on the same connection, so they cover it
    if (durability && confirmNow) await confirm(this.conn.redis, this.slot, durability, outcomes.map((o) => o.id));
    return outcomes;
  }
}
