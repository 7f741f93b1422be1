import { ResultCode, setLongTimeout, type LongTimer } from '@kyoo/core';
import type { InFlight, LeaseRegistry } from './registry.js';

/** What the heartbeat needs: the leases, one extend call for many, and what to do with a lease that is gone. */
export interface HeartbeatDeps {
  readonly registry: LeaseRegistry;
  readonly heartbeatMs: number;
  extend(leases: { id: string; token: string }[]): Promise<ResultCode[]>;
  /** The lease is gone: `code` is LEASE_LOST or CANCELLED. */
  gone(entry: InFlight, code: ResultCode): void;
  error(err: Error): void;
}

/**
 * The heartbeat: every `heartbeatMs`, one extend call pushes the deadline of
 * every lease the worker holds. A lease found lost or cancelled aborts its
 * handler. No timer per job.
 */
export class Heartbeat {
  private timer: LongTimer | undefined;
  private stopped = false;
  private beating = false;

  constructor(private readonly d: HeartbeatDeps) {}

  /** Beats every `heartbeatMs` (a long timer: intervals past 2^31-1 ms would fire every millisecond). */
  start(): void {
    if (this.stopped) return;
    this.timer = setLongTimeout(() => {
      this.start();
      void this.beat();
    }, this.d.heartbeatMs).unref();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.clear();
  }

  private async beat(): Promise<void> {
    const entries = this.d.registry.live();
    if (entries.length === 0 || this.beating) return;
    this.beating = true;
    try {
      const codes = await this.d.extend(entries.map((e) => ({ id: e.id, token: e.token })));
      codes.forEach((code, i) => {
        const entry = entries[i]!;
        // a run that finished while the heartbeat travelled is no longer leased: not a loss
        if (code !== ResultCode.OK && this.d.registry.holds(entry)) this.d.gone(entry, code);
      });
    } catch (err) {
      this.d.error(err as Error);
    } finally {
      this.beating = false;
    }
  }
}
