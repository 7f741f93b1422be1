import { setTimeout as sleep } from 'node:timers/promises';
import { LeaseLostError, ResultCode, backoffDelay, encode, type JobRecord } from '@kyoo/core';
import type { Job } from './job.js';
import { toError } from './run-handler.js';
import type { Worker } from './worker.js';

/** One run a worker holds: the lease's fencing token and the handler's abort controller. */
export interface InFlight<T> {
  id: string;
  token: string;
  attempt: number;
  /** Aborts the handler's signal; absent when the handler does not take one. */
  controller: AbortController | undefined;
  /** Set when the lease is gone (lost, or released at shutdown): the run's outcome is not reported. */
  released: boolean;
  record: JobRecord | undefined;
  /** Phantom field tying an entry to the worker's payload type. */
  readonly _t?: T;
}

/** How a worker settles runs: success into the ack batch, failure into retry or dead letter, release at shutdown. */
export class Settler<T, R> {
  private pending = new Set<Promise<void>>();

  constructor(private readonly w: Worker<T, R>) {}

  succeed(entry: InFlight<T>, job: Job<T>, result: R): void {
    this.w.inflight.delete(entry.token);
    if (entry.released) this.w.schedulePump();
    else this.w.queueAck(entry, job, result);
  }

  /** Records a failed run; `poison` sends it to the dead-letter queue whatever its attempts. */
  fail(entry: InFlight<T>, job: Job<T | undefined>, thrown: unknown, poison: boolean): Promise<void> {
    const p = this.failNow(entry, job, toError(thrown), poison).finally(() => {
      this.pending.delete(p);
      this.w.inflight.delete(entry.token);
      this.w.schedulePump();
    });
    this.pending.add(p);
    return p;
  }

  /** The lease is gone: abort the handler and forget its outcome. */
  lose(entry: InFlight<T>, op: 'extend' | 'release'): void {
    if (entry.released) return;
    entry.released = true;
    const err = new LeaseLostError(entry.id, op);
    entry.controller?.abort(err);
    this.w.emitError(err);
  }

  /** Releases leases at shutdown so another worker takes the jobs at once. */
  async releaseAll(entries: InFlight<T>[]): Promise<void> {
    const live = entries.filter((e) => !e.released);
    if (live.length === 0) return;
    for (const e of live) {
      e.released = true;
      e.controller?.abort(new Error('worker is shutting down; the job was released to another worker'));
    }
    const args: string[] = [String(live.length)];
    for (const e of live) args.push(e.id, e.token);
    const codes = (await this.w.scripts.run(this.w.conn.redis, 'release', args)) as number[];
    codes.forEach((code, i) => {
      if (code !== ResultCode.OK) this.w.emitError(new LeaseLostError(live[i]!.id, 'release'));
    });
  }

  /** Keeps `close()` waiting for `p` (a release under way). */
  track(p: Promise<unknown>): void {
    const tracked: Promise<void> = p.then(
      () => undefined,
      (err: unknown) => this.w.emitError(toError(err)),
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Resolves when every failure under way has been recorded (or given up at close). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async failNow(entry: InFlight<T>, job: Job<T | undefined>, error: Error, poison: boolean): Promise<void> {
    if (entry.released) return;
    const w = this.w;
    const dead = poison || job.attempt >= job.attempts;
    const delayMs = dead ? 0 : this.retryDelay(entry, job.attempt, error);
    const blob = encode({ name: error.name, message: error.message, stack: error.stack ?? '', attempt: job.attempt });
    for (let streak = 0; ; streak++) {
      try {
        const code = (await w.scripts.run(w.conn.redis, 'fail', [
          entry.id, entry.token, dead ? 1 : 0, delayMs, blob, w.opts.maxErrors,
        ])) as number;
        if (code !== ResultCode.OK) {
          w.emitError(new LeaseLostError(entry.id, 'fail'));
          return;
        }
        break;
      } catch (err) {
        if (!w.isRunning() && streak >= 3) return; // closing and Redis is gone: the lease expires and is reclaimed
        w.emitError(err as Error);
        await sleep(Math.min(5000, 50 * 2 ** streak));
      }
    }
    w.notify('failed', job as Job<T>, error);
    if (dead) w.notify('dead', job, error);
    else w.notify('retried', job as Job<T>, error, delayMs);
  }

  private retryDelay(entry: InFlight<T>, attempt: number, error: Error): number {
    const custom = this.w.opts.backoff;
    let ms: number;
    if (custom) {
      try {
        ms = custom(attempt, error);
      } catch (err) {
        this.w.emitError(toError(err));
        ms = 0;
      }
    } else {
      const r = entry.record;
      ms = r ? backoffDelay({ type: r.backoffType, delayMs: r.backoffMs, maxDelayMs: r.backoffMaxMs, jitter: r.jitter }, attempt) : 0;
    }
    return Number.isFinite(ms) && ms > 0 ? Math.min(Math.floor(ms), 2 ** 40) : 0;
  }
}
