import { ResultCode, ScriptRunner, keySlot, log, type OwnedConnection } from '@kyoo/core';
import { checkServerSupports, confirm, type ResolvedDurability } from './durability.js';
import { IdBlocks } from './id-blocks.js';
import type { PreparedJob } from './job-options.js';

/** Jobs per enqueue call: bounded so one call never holds Redis for long. */
export const MAX_BATCH = 1000;

interface Pending {
  job: PreparedJob;
  resolve: (id: string) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces `add()` calls made in the same tick into one enqueue script call:
 * each caller still gets its own id (or error), but Redis pays one script
 * call for the whole batch.
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
    private readonly scripts: ScriptRunner,
    private readonly durability: ResolvedDurability | null,
    idsKey: string,
  ) {
    this.ids = new IdBlocks(conn, idsKey);
    this.slot = keySlot(idsKey);
  }

  /** Queues one prepared job for the next flush. */
  add(job: PreparedJob): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.flush());
      }
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
      ids.push(...(await this.call(jobs.slice(i, i + MAX_BATCH), false)));
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
    for (let i = 0; i < batch.length; i += MAX_BATCH) {
      const part = batch.slice(i, i + MAX_BATCH);
      const p = this.call(part.map((x) => x.job)).then(
        (ids) => part.forEach((x, j) => x.resolve(ids[j]!)),
        (err: unknown) => part.forEach((x) => x.reject(err)),
      );
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
  }

  private async call(jobs: readonly PreparedJob[], confirmNow = true): Promise<string[]> {
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
    const args: (string | number | Buffer)[] = [jobs.length];
    let k = 0;
    for (const j of jobs) {
      if (j.id === '') args.push(fresh[k++]!, 1, j.delayMs, j.record);
      else args.push(j.id, 0, j.delayMs, j.record);
    }
    const reply = (await this.scripts.run(this.conn.redis, 'enqueue', args)) as (Buffer | number)[];
    const ids: string[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      const id = String(reply[i]);
      if (reply[i + 1] === ResultCode.DUPLICATE) log.client('job %s exists already; left as it was', id);
      ids.push(id);
    }
    // WAIT / WAITAOF follow the write on the same connection, so they cover it
    if (durability && confirmNow) await confirm(this.conn.redis, this.slot, durability, ids);
    return ids;
  }
}
