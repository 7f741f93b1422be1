import {
  JobCancelledError,
  JobFailedError,
  JobNotFoundError,
  WaitTimeoutError,
  log,
  setLongTimeout,
  type JobProgress,
  type LongTimer,
  type QueueKeys,
  type RedisConnection,
} from '@kyoo/core';
import { entryEvents, readEvents, type QueueEvent } from './events.js';
import { readJob, type JobInfo } from './job-info.js';

/**
 * How far before a wait began (ms: clock skew between this host and Redis),
 * and over how many entries at most, it looks for the end of a job that is gone.
 */
const RECENT_MS = 1000;
const RECENT_ENTRIES = 5000;

/** Options of {@link Queue.result}. */
export interface ResultOptions {
  /** Gives up after this many ms with `WaitTimeoutError` (the job goes on); 0 = wait as long as it takes. @defaultValue `0` */
  timeoutMs?: number;
  /** Hears the job's progress reports while the wait lasts. */
  onProgress?: (progress: JobProgress) => void;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: LongTimer | undefined;
  onProgress: ((progress: JobProgress) => void) | undefined;
  /** The newest report handed to onProgress: older ones (read late) and the same one again are not handed on. */
  seen: JobProgress | undefined;
}

/**
 * Waits for job outcomes for one queue in one process: any number of waits
 * share one events reader (one connection, started on the first wait and
 * closed when none is left), so no wait polls and none opens a connection.
 * A wait registers, makes sure the reader has its place in the stream, and
 * only then looks at the job: an outcome before that place is in the job's
 * state, one after it arrives as an event. Nothing falls in between.
 */
export class ResultWaiter {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private reader: { ac: AbortController; ready: Promise<void>; done: Promise<void> } | undefined;

  constructor(
    private readonly redis: () => RedisConnection,
    private readonly keys: QueueKeys,
  ) {}

  /** Resolves with the job's result; rejects as {@link Queue.result} says. */
  async wait(id: string, timeoutMs: number, onProgress?: (progress: JobProgress) => void): Promise<unknown> {
    let waiter!: Waiter;
    const settled = new Promise<unknown>((resolve, reject) => {
      waiter = { resolve, reject, timer: undefined, onProgress, seen: undefined };
    });
    const set = this.waiters.get(id) ?? new Set<Waiter>();
    set.add(waiter);
    this.waiters.set(id, set);
    if (timeoutMs > 0) waiter.timer = setLongTimeout(() => this.settle(id, waiter, new WaitTimeoutError(id, timeoutMs)), timeoutMs);
    // the caller holds `settled` from here on: a wait that ends (close, timeout) while
    // the lookup is still on its way is never a rejection nobody handles
    void this.look(id, waiter);
    return settled;
  }

  /** Makes sure the reader has its place in the stream, then looks at the job; settles `w` if it has ended. */
  private async look(id: string, w: Waiter): Promise<void> {
    const since = Date.now();
    try {
      await this.start().ready;
      const job = await readJob(this.redis(), this.keys, id);
      if (job?.progress && (job.state === 'leased' || job.state === 'ready' || job.state === 'delayed')) this.progress(w, job.progress);
      if (job) this.outcome(id, job, w);
      else await this.gone(id, w, since);
    } catch (err) {
      this.settle(id, w, err as Error);
    }
  }

  /**
   * No such job now: it never existed, or it ended in the moment between
   * registering and looking (completed and not kept, removed). Its last
   * events, if any, are among the stream's newest entries.
   */
  private async gone(id: string, w: Waiter, since: number): Promise<void> {
    const recent = (await this.redis().xrevrange(this.keys.events, '+', String(since - RECENT_MS), 'COUNT', RECENT_ENTRIES)) as [string, string[]][];
    const completed = recent.some(([entry, fields]) => entryEvents(entry, fields).some((e) => e.type === 'completed' && e.jobId === id));
    // completed, its result not kept: undefined; else there is no such job
    if (completed) this.settle(id, w, undefined, undefined);
    else this.settle(id, w, new JobNotFoundError(id));
  }

  /** Ends every wait (the queue closes). */
  close(err: Error): void {
    for (const id of [...this.waiters.keys()]) this.settleAll(id, err);
    this.reader?.ac.abort();
  }

  /** Settles `w` (or every waiter of the job) from a job's current state, if it has ended. */
  private outcome(id: string, job: JobInfo, w?: Waiter): void {
    const targets = w ? [w] : [...(this.waiters.get(id) ?? [])];
    for (const t of targets) {
      if (job.state === 'completed') this.settle(id, t, undefined, job.result);
      else if (job.state === 'dead') this.settle(id, t, new JobFailedError(id, job.lastError));
      else if (job.state === 'cancelled') this.settle(id, t, new JobCancelledError(id));
    }
  }

  private settle(id: string, w: Waiter, err: Error | undefined, value?: unknown): void {
    const set = this.waiters.get(id);
    if (!set?.delete(w)) return; // settled already
    w.timer?.clear();
    if (set.size === 0) this.waiters.delete(id);
    if (err) w.reject(err);
    else w.resolve(value);
    if (this.waiters.size === 0) this.stop();
  }

  /** Settles every wait for job `id` alike. */
  private settleAll(id: string, err: Error | undefined, value?: unknown): void {
    for (const w of [...(this.waiters.get(id) ?? [])]) this.settle(id, w, err, value);
  }

  private start(): NonNullable<ResultWaiter['reader']> {
    if (this.reader) return this.reader;
    const ac = new AbortController();
    let ready!: () => void;
    const readyP = new Promise<void>((r) => (ready = r));
    const events = readEvents(this.redis(), this.keys.events, { from: '$', signal: ac.signal, batch: 1000 }, ready);
    const done = (async () => {
      try {
        for await (const e of events) this.onEvent(e);
      } catch (err) {
        log.client('result reader: %s', (err as Error).message);
        // the reader failed (Redis gone for good, or trimmed past): every wait learns of it
        for (const id of [...this.waiters.keys()]) this.settleAll(id, err as Error);
      } finally {
        ready();
      }
    })();
    this.reader = { ac, ready: readyP, done };
    void done.finally(() => {
      if (this.reader?.ac === ac) this.reader = undefined;
    });
    return this.reader;
  }

  private stop(): void {
    this.reader?.ac.abort();
    this.reader = undefined;
  }

  /** Hands a report to a waiter's onProgress, unless it has seen a newer one. */
  private progress(w: Waiter, p: JobProgress): void {
    if (!w.onProgress) return;
    const seen = w.seen;
    if (seen && (p.attempt < seen.attempt || (p.attempt === seen.attempt && p.at < seen.at))) return;
    // the report the wait read from the job, arriving again as an event
    if (seen && p.attempt === seen.attempt && p.at === seen.at && JSON.stringify(p.value) === JSON.stringify(seen.value)) return;
    w.seen = p;
    try {
      w.onProgress(p);
    } catch (err) {
      log.client('an onProgress listener threw: %s', (err as Error)?.message ?? String(err));
    }
  }

  private onEvent(e: QueueEvent): void {
    if (!this.waiters.has(e.jobId)) return;
    if (e.type === 'progress') {
      if (e.progress === undefined) return;
      const p: JobProgress = { value: e.progress, attempt: e.attempt, at: e.at };
      for (const w of [...(this.waiters.get(e.jobId) ?? [])]) this.progress(w, p);
      return;
    }
    if (e.type !== 'completed' && e.type !== 'dead' && e.type !== 'cancelled' && e.type !== 'removed') return;
    if (e.type === 'removed') {
      this.settleAll(e.jobId, new JobNotFoundError(e.jobId));
      return;
    }
    // the result (kept by the policy) and the last error are read from the job
    readJob(this.redis(), this.keys, e.jobId).then(
      (job) => {
        if (job) this.outcome(e.jobId, job);
        else if (e.type === 'completed') this.settleAll(e.jobId, undefined, undefined); // its result not kept
        else this.settleAll(e.jobId, new JobNotFoundError(e.jobId));
      },
      (err: Error) => this.settleAll(e.jobId, err),
    );
  }
}
