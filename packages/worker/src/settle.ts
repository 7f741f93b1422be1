import { setTimeout as sleep } from 'node:timers/promises';
import { BackOffError, JobCancelledError, LeaseLostError, ResultCode, backoffDelay, encode, type ScriptArgs } from '@kyoo/core';
import type { Job } from './job.js';
import type { InFlight, LeaseRegistry } from './registry.js';
import { toError } from './run-handler.js';

/** Job events the settler reports (the worker's public events). */
export interface SettleEvents {
  failed(job: Job<unknown>, error: Error): void;
  retried(job: Job<unknown>, error: Error, delayMs: number): void;
  dead(job: Job<unknown>, error: Error): void;
  cancelled(job: Job<unknown>): void;
  backedOff(job: Job<unknown>, delayMs: number, scope: 'queue' | 'group'): void;
}

/** What settling needs: the leases, the fail and release calls, the backoff, and where to report. */
export interface SettleDeps {
  readonly registry: LeaseRegistry;
  readonly backoff: ((attempt: number, error: Error) => number) | undefined;
  readonly events: SettleEvents;
  fail(args: ScriptArgs<'fail'>): Promise<ResultCode>;
  release(args: ScriptArgs<'release'>): Promise<ResultCode[]>;
  backOff(args: ScriptArgs<'backoff'>): Promise<ResultCode>;
  error(err: Error): void;
  /** Whether the worker still runs (a closing worker gives up on a gone Redis sooner). */
  running(): boolean;
  /** A slot is free: lease again soon. */
  slotFreed(): void;
}

/** How a worker settles runs that do not succeed: failure into retry or dead letter, lost and cancelled leases, release at shutdown. */
export class Settler {
  private pending = new Set<Promise<void>>();

  constructor(private readonly d: SettleDeps) {}

  /**
   * Records a failed run; `poison` sends it to the dead-letter queue whatever
   * its attempts. A {@link BackOffError} is no failure: the job goes back.
   */
  fail(entry: InFlight, job: Job<unknown>, thrown: unknown, poison: boolean): Promise<void> {
    const settle = thrown instanceof BackOffError && !poison ? this.backOffNow(entry, job, thrown) : this.failNow(entry, job, toError(thrown), poison);
    const p = settle.finally(() => {
      this.pending.delete(p);
      this.d.registry.delete(entry);
      this.d.slotFreed();
    });
    this.pending.add(p);
    return p;
  }

  /** The lease is gone (lost, or the job was cancelled): abort the handler and forget its outcome. */
  gone(entry: InFlight, code: ResultCode, job?: Job<unknown>): void {
    if (entry.released) return;
    entry.released = true;
    if (code === ResultCode.CANCELLED) {
      entry.controller?.abort(new JobCancelledError(entry.id));
      if (job) this.d.events.cancelled(job);
      return;
    }
    const err = new LeaseLostError(entry.id, 'extend');
    entry.controller?.abort(err);
    this.d.error(err);
  }

  /**
   * Gives leases back without running them (the attempt is not used): at
   * shutdown to the front of ready, or after `delayMs` (a record too new for
   * this worker).
   */
  async release(entries: InFlight[], delayMs = 0): Promise<void> {
    const live = entries.filter((e) => !e.released);
    if (live.length === 0) return;
    for (const e of live) {
      e.released = true;
      if (delayMs === 0) e.controller?.abort(new Error('worker is shutting down; the job was released to another worker'));
    }
    const codes = await this.d.release({ delayMs, leases: live.map((e) => ({ id: e.id, token: e.token })) });
    codes.forEach((code, i) => {
      if (code !== ResultCode.OK) this.d.error(new LeaseLostError(live[i]!.id, 'release'));
    });
  }

  /** Keeps `close()` waiting for `p` (a release under way). */
  track(p: Promise<unknown>): void {
    const tracked: Promise<void> = p.then(
      () => undefined,
      (err: unknown) => this.d.error(toError(err)),
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Resolves when every failure under way has been recorded (or given up at close). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async failNow(entry: InFlight, job: Job<unknown>, error: Error, poison: boolean): Promise<void> {
    if (entry.released) return;
    const dead = poison || job.attempt >= job.attempts;
    const delayMs = dead ? 0 : this.retryDelay(entry, job.attempt, error);
    const blob = encode({ name: error.name, message: error.message, stack: error.stack ?? '', attempt: job.attempt });
    const dedup = entry.record?.dedupMode === 1 ? entry.record.dedupKey : '';
    const code = await this.untilApplied(() => this.d.fail({ id: entry.id, token: entry.token, dead, delayMs, error: blob, dedup }));
    if (code === undefined) return;
    if (code === ResultCode.CANCELLED) {
      this.gone(entry, code, job);
      return;
    }
    if (code !== ResultCode.OK) {
      this.d.error(new LeaseLostError(entry.id, 'fail'));
      return;
    }
    this.d.events.failed(job, error);
    if (dead) this.d.events.dead(job, error);
    else this.d.events.retried(job, error, delayMs);
  }

  private async backOffNow(entry: InFlight, job: Job<unknown>, e: BackOffError): Promise<void> {
    if (entry.released) return;
    const code = await this.untilApplied(() => this.d.backOff({ id: entry.id, token: entry.token, delayMs: e.delayMs, scope: e.scope === 'queue' ? 0 : 1 }));
    if (code === undefined) return;
    if (code === ResultCode.CANCELLED) this.gone(entry, code, job);
    else if (code !== ResultCode.OK) this.d.error(new LeaseLostError(entry.id, 'backOff'));
    else this.d.events.backedOff(job, e.delayMs, e.scope);
  }

  /** Calls until Redis answers (backing off between errors); undefined when closing and Redis stays gone: the lease expires and is reclaimed. */
  private async untilApplied(call: () => Promise<ResultCode>): Promise<ResultCode | undefined> {
    for (let streak = 0; ; streak++) {
      try {
        return await call();
      } catch (err) {
        if (!this.d.running() && streak >= 3) return undefined;
        this.d.error(err as Error);
        await sleep(Math.min(5000, 50 * 2 ** streak));
      }
    }
  }

  private retryDelay(entry: InFlight, attempt: number, error: Error): number {
    const custom = this.d.backoff;
    let ms: number;
    if (custom) {
      try {
        ms = custom(attempt, error);
      } catch (err) {
        this.d.error(toError(err));
        ms = 0;
      }
    } else {
      const r = entry.record;
      ms = r ? backoffDelay({ type: r.backoffType, delayMs: r.backoffMs, maxDelayMs: r.backoffMaxMs, jitter: r.jitter }, attempt) : 0;
    }
    return Number.isFinite(ms) && ms > 0 ? Math.min(Math.floor(ms), 2 ** 40) : 0;
  }
}
