import { ResultCode, setLongTimeout, type LongTimer } from '@kyoo/core';
import type { InFlight, Settler } from './settle.js';
import type { Worker } from './worker.js';

/**
 * The heartbeat: every `heartbeatMs`, one extend call pushes the deadline of
 * every lease the worker holds. A lease found lost aborts its handler. No
 * timer per job.
 */
export class Heartbeat<T, R> {
  private timer: LongTimer | undefined;
  private stopped = false;
  private beating = false;

  constructor(
    private readonly w: Worker<T, R>,
    private readonly settler: Settler<T, R>,
  ) {}

  /** Beats every `heartbeatMs` (a long timer: intervals past 2^31-1 ms would fire every millisecond). */
  start(): void {
    if (this.stopped) return;
    this.timer = setLongTimeout(() => {
      this.start();
      void this.beat();
    }, this.w.opts.heartbeatMs).unref();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.clear();
  }

  private async beat(): Promise<void> {
    const w = this.w;
    const entries: InFlight<T>[] = [...w.inflight.values()].filter((e) => !e.released);
    if (entries.length === 0 || this.beating) return;
    this.beating = true;
    try {
      const args: (string | number)[] = [w.opts.leaseMs, entries.length];
      for (const e of entries) args.push(e.id, e.token);
      const codes = (await w.scripts.run(w.conn.redis, 'extend', args)) as number[];
      codes.forEach((code, i) => {
        const entry = entries[i]!;
        // a run that finished while the heartbeat travelled is no longer leased: not a loss
        if (code !== ResultCode.OK && w.inflight.get(entry.token) === entry) this.settler.lose(entry, 'extend');
      });
    } catch (err) {
      w.emitError(err as Error);
    } finally {
      this.beating = false;
    }
  }
}
