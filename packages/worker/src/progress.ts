import { ResultCode, encodeProgress, type JsonValue, type TraceContext } from '@kyoo/core';
import type { Job } from './job.js';
import type { InFlight, LeaseRegistry } from './registry.js';

/** One job's reports: at most one call in flight, the newest waiting report behind it. */
interface Pending {
  busy: boolean;
  next: string | undefined;
  waiters: { resolve(ok: boolean): void; reject(err: unknown): void }[];
}

/** Sends progress reports (lua/progress.lua), fenced by the run's token. */
export class ProgressReporter {
  private readonly pending = new WeakMap<InFlight, Pending>();

  constructor(
    private readonly registry: LeaseRegistry,
    private readonly send: (args: { id: string; token: string; value: string }) => Promise<ResultCode>,
  ) {}

  report(entry: InFlight, value: unknown): Promise<boolean> {
    let json: string;
    try {
      json = encodeProgress(value);
    } catch (err) {
      return Promise.reject(err);
    }
    if (entry.released || !this.registry.holds(entry)) return Promise.resolve(false);
    let p = this.pending.get(entry);
    if (!p) this.pending.set(entry, (p = { busy: false, next: undefined, waiters: [] }));
    if (!p.busy) return this.write(entry, p, json);
    // one call is on its way: this report replaces any waiting one, and its promise settles with the one that is sent
    p.next = json;
    return new Promise((resolve, reject) => p.waiters.push({ resolve, reject }));
  }

  private async write(entry: InFlight, p: Pending, json: string): Promise<boolean> {
    p.busy = true;
    try {
      const code = await this.send({ id: entry.id, token: entry.token, value: json });
      return code === ResultCode.OK;
    } finally {
      p.busy = false;
      const next = p.next;
      if (next !== undefined) {
        const waiters = p.waiters.splice(0);
        p.next = undefined;
        const sent = entry.released || !this.registry.holds(entry) ? Promise.resolve(false) : this.write(entry, p, next);
        sent.then((ok) => waiters.forEach((w) => w.resolve(ok)), (err: unknown) => waiters.forEach((w) => w.reject(err)));
      }
    }
  }
}

/** The job a handler gets: its fields, and `progress` through the worker's reporter. */
export class RunningJob<T> implements Job<T> {
  readonly schedule?: { readonly id: string; readonly occurrence: number };
  readonly traceContext?: TraceContext;
  readonly #entry: InFlight;
  readonly #reporter: ProgressReporter;
  constructor(
    readonly id: string,
    readonly data: T,
    readonly attempt: number,
    readonly attempts: number,
    readonly createdAt: number,
    readonly priority: number,
    schedule: { readonly id: string; readonly occurrence: number } | undefined,
    traceContext: TraceContext | undefined,
    entry: InFlight,
    reporter: ProgressReporter,
  ) {
    if (schedule) this.schedule = schedule;
    if (traceContext) this.traceContext = traceContext;
    this.#entry = entry;
    this.#reporter = reporter;
  }

  progress(value: JsonValue): Promise<boolean> {
    return this.#reporter.report(this.#entry, value);
  }
}
