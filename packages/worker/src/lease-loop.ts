import { setTimeout as sleep } from 'node:timers/promises';
import type { LeaseReply, LeasedJob, RedisConnection, ResultCode, ScriptArgs } from '@kyoo/core';
import type { InFlight, LeaseRegistry } from './registry.js';

/** A run that succeeded, waiting for the next ack call (it is also the ack script's entry). */
export interface PendingAck {
  id: string;
  token: string;
  /** The job's until-complete dedup key, freed by the ack ('' = none). */
  dedup: string;
  entry: InFlight;
  /** The result as kept (msgpack), or '' when the policy keeps none or it cannot be kept. */
  result: Buffer | '';
  /** What the handler returned (for the 'completed' event). */
  value: unknown;
}

/** What the loop needs: two connections, the lease and ack calls, the registry, and where leased jobs go. */
export interface LoopDeps {
  readonly registry: LeaseRegistry;
  /** Connection for blocking waits on the wake list (BLPOP). */
  readonly blocker: RedisConnection;
  readonly wakeKey: string;
  /** This worker's own wake list, beside the queue's: close() pushes to it to end a blocking wait. */
  readonly ownWakeKey: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly maxIdleMs: number;
  /** The worker's id: the first part of each lease call's nonce, so a token names its holder. */
  readonly workerId: string;
  /** What the worker says of its slots with each call (lua/includes/workers.lua). */
  slots(): string;
  lease(args: ScriptArgs<'lease'>): Promise<LeaseReply>;
  /** The lease call on the blocking connection (it runs when the blocking wait ends). */
  leaseBlocked(args: ScriptArgs<'lease'>): Promise<LeaseReply>;
  /** Ends this worker's blocking wait (a push to its own wake list, on the other connection). */
  unblock(): Promise<unknown>;
  /** Removes what such a push may have left in the own wake list. */
  forgetUnblock(): Promise<unknown>;
  ack(args: ScriptArgs<'ack'>): Promise<{ codes: ResultCode[]; lease: LeaseReply }>;
  /** Start a leased job's handler. */
  start(job: LeasedJob): void;
  /** Jobs a call brought back after leasing stopped: give them back. */
  late(jobs: LeasedJob[]): void;
  /** An ack was applied or refused (`code`). */
  acked(item: PendingAck, code: ResultCode): void;
  /** The due timer fired while every slot was busy: wake an idle worker instead (it may have no timer). */
  passWake(): void;
  /** Every lease reply tells when the next schedule occurrence comes (ms; 0 = now, -1 = none). */
  scheduleIn(ms: number): void;
  error(err: Error): void;
}

const MAX_ACKS_PER_CALL = 1000;
/** Ack/lease calls in flight at once. */
const MAX_CALLS = 2;
/** Weight of the newest sample in the running averages of handler and call times. */
const EWMA = 0.2;

/**
 * The worker's loop: ack what finished and lease what fits, in as few calls
 * as possible. Up to {@link MAX_CALLS} calls are in flight at once, each
 * leasing at most half the slots, so handlers run while the next batch
 * travels. Its states:
 *
 * - `new`: constructed, not leasing;
 * - `running`: leasing. While running it is *starved* once a lease came back
 *   short (the queue looked empty): then, with no call in flight and a free
 *   slot, it *blocks* on the wake list until an add (or a resume, a due
 *   delayed job, an expiring lease: the due timer) wakes it; after a Redis
 *   error it *backs off* before the next call;
 * - `draining`: close() began: no more leases, acks still go out;
 * - `closed`: nothing is sent.
 *
 * Leasing ahead: while handlers take less time on average than a call's
 * round trip, the loop leases up to `concurrency` jobs more than the free
 * slots, so that the next job is at hand when a handler ends instead of a
 * round trip away (the worker starts them as slots free, never more than
 * `concurrency` at once; their leases are held and heartbeated like the
 * others). With slower handlers it leases only what fits, so no job waits in
 * one worker while another is idle.
 */
export class LeaseLoop {
  state: 'new' | 'running' | 'draining' | 'closed' = 'new';
  /** Whether the policy keeps results (learned from every lease reply). */
  keepResults = false;
  private acks: PendingAck[] = [];
  /** Calls sent on the main connection, and replies handled, in sending order (see inOrder). */
  private sent = 0;
  private handled = 0;
  private readonly replies = new Map<number, () => void>();
  private calls = 0;
  private reserved = 0;
  private readonly batchMax: number;
  private starved = false;
  private blocking = false;
  /** A push to the own wake list is on its way to end the blocking wait. */
  private unblocking = false;
  private retryAt = 0;
  private errorStreak = 0;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  /** When the due timer fires (Date.now() ms). */
  private dueAt = 0;
  private idleCalls: (() => void)[] = [];
  /** Settles when the blocking wait in progress, with its lease, has ended. */
  private parked: Promise<void> | undefined;
  private unblockTimer: NodeJS.Timeout | undefined;
  /** Running averages (ms): a handler's run, and an ack/lease call's round trip. */
  private handlerMs = Infinity;
  private callMs = 0;

  constructor(private readonly d: LoopDeps) {
    this.batchMax = Math.max(1, Math.ceil(d.concurrency / MAX_CALLS));
  }

  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.schedule();
  }

  /** A handler ran for `ms` (for leasing ahead). */
  ran(ms: number): void {
    this.handlerMs = this.handlerMs === Infinity ? ms : this.handlerMs + EWMA * (ms - this.handlerMs);
  }

  /** Jobs leased beyond the free slots: as many as the slots while handlers are quicker than a round trip. */
  get ahead(): number {
    return this.handlerMs < this.callMs ? this.d.concurrency : 0;
  }

  /** Jobs one call leases at most: half the slots, or all of them while leasing ahead (one at a time at concurrency 1, so that two calls overlap). */
  private get batch(): number {
    return this.ahead > 0 && this.d.concurrency > 1 ? this.batchMax * 2 : this.batchMax;
  }

  /** Queues a successful run for the next ack call. */
  ack(item: PendingAck): void {
    this.acks.push(item);
    this.schedule();
  }

  /** A slot freed or an ack is pending: pump soon, once for many events. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /**
   * Something may be ready: lease now (no extra tick: this is the pickup-latency path). During a
   * blocking wait the wait is ended instead, so that the lease queued behind it does the leasing.
   */
  wake(): void {
    this.starved = false;
    if (this.state !== 'running') return;
    if (!this.blocking) {
      this.pump();
      return;
    }
    if (this.unblocking) return;
    this.unblocking = true;
    // should the push fail, the connections are down: the wait fails too, or the reconnect wakes the loop
    this.d.unblock().catch((err: unknown) => this.d.error(err as Error));
  }

  /**
   * Stops leasing; acks still go out until {@link LeaseLoop.drain} is done.
   * A blocking wait in progress is ended through the worker's own wake list,
   * so that the lease queued behind it runs and its reply (jobs to give
   * back) is read; after 1 s, or when that push fails, the connection is
   * closed instead.
   */
  stopLeasing(): void {
    if (this.state === 'running' || this.state === 'new') this.state = 'draining';
    clearTimeout(this.dueTimer);
    if (!this.blocking) {
      this.d.blocker.disconnect();
      return;
    }
    this.unblockTimer = setTimeout(() => this.d.blocker.disconnect(), 1000);
    this.d.unblock().catch(() => this.d.blocker.disconnect());
  }

  /** Waits until every queued ack has been sent (or the loop is closed). */
  async drain(settled: () => Promise<void>): Promise<void> {
    for (;;) {
      if (this.parked) await this.parked;
      await settled();
      if (this.state === 'closed' || (this.acks.length === 0 && this.calls === 0)) return;
      if (this.calls === 0) this.pump();
      if (this.calls > 0) await new Promise<void>((r) => this.idleCalls.push(r));
      else await sleep(Math.max(10, this.retryAt - Date.now())); // backing off after an error
    }
  }

  close(): void {
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    clearTimeout(this.dueTimer);
    clearTimeout(this.unblockTimer);
  }

  /** No call in flight (for close()'s wait). */
  get quiet(): boolean {
    return this.calls === 0;
  }

  private free(): number {
    return this.state === 'running' ? this.d.concurrency + this.ahead - this.d.registry.size : 0;
  }

  private pump(): void {
    if (this.state === 'closed') return;
    if (Date.now() < this.retryAt) {
      this.pumpAt(this.retryAt);
      return;
    }
    while (this.calls < MAX_CALLS) {
      const acks = this.acks.splice(0, MAX_ACKS_PER_CALL);
      const room = this.free() - this.reserved;
      // room is below 0 when leasing ahead stopped with jobs still waiting in the worker. During a
      // blocking wait only the lease behind it leases: jobs start in the order Redis leased them
      // only while every leasing call goes on one connection (replies on two come in any order)
      const want = !this.blocking && (acks.length > 0 || !this.starved) ? Math.max(0, Math.min(room, this.batch)) : 0;
      if (acks.length === 0 && want <= 0) break;
      this.calls++;
      this.reserved += want;
      const t0 = performance.now();
      const seq = this.sent++;
      this.call(acks, want).then(
        (lease) => {
          const ms = performance.now() - t0;
          this.inOrder(seq, () => {
            this.callMs = this.callMs === 0 ? ms : this.callMs + EWMA * (ms - this.callMs);
            this.calls--;
            this.reserved -= want;
            this.errorStreak = 0;
            const got = this.take(lease, want > 0);
            if (want > 0) this.starved = got < want;
            this.afterCall();
          });
        },
        (err: unknown) => {
          this.inOrder(seq, () => {
            this.calls--;
            this.reserved -= want;
            this.acks.unshift(...acks);
            if (this.state !== 'closed') {
              this.d.error(err as Error);
              this.retryAt = Date.now() + Math.min(5000, 50 * 2 ** this.errorStreak++);
            }
            this.afterCall();
          });
        },
      );
    }
    // a slot freed after a short lease that found every slot busy (jobs from another call filled them):
    // nothing to send, so wait for a wake-up now
    if (this.calls === 0 && this.starved && this.free() > 0) this.block();
  }

  /**
   * Handles call `seq`'s reply once every earlier call's reply has been handled. Redis runs the calls
   * of one connection in the order they were sent, and the jobs they lease must start in that order
   * (FIFO); but the promises of two replies read in one chunk can settle in either order (a call sent
   * as EVAL takes a few more steps than one sent as FCALL).
   */
  private inOrder(seq: number, handle: () => void): void {
    this.replies.set(seq, handle);
    for (let next = this.replies.get(this.handled); next; next = this.replies.get(this.handled)) {
      this.replies.delete(this.handled++);
      next();
    }
  }

  private async call(acks: PendingAck[], want: number): Promise<LeaseReply> {
    const common = this.leaseArgs(want);
    if (acks.length === 0) return this.d.lease(common);
    let dedups = '';
    for (const a of acks) if (a.dedup !== '') dedups += `${a.id}\0${a.dedup}\0`;
    const reply = await this.d.ack({ ...common, dedups, acks });
    for (let i = 0; i < acks.length; i++) this.d.acked(acks[i]!, reply.codes[i]!);
    return reply.lease;
  }

  private leaseArgs(want: number): ScriptArgs<'lease'> {
    // the nonce keeps tokens unique if a failover rolls the fence counter back (docs/design/011);
    // it starts with the worker's id, so a token (and `getJob`) tells which worker holds a lease
    return { n: want, leaseMs: this.d.leaseMs, rnd: Math.random(), nonce: `${this.d.workerId}.${nonce()}`, worker: this.d.slots() };
  }

  private afterCall(): void {
    if (this.acks.length > 0 || (!this.starved && this.free() - this.reserved > 0)) this.schedule();
    else if (this.starved && this.calls === 0 && this.free() > 0) this.block();
    if (this.calls === 0) for (const w of this.idleCalls.splice(0)) w();
  }

  /**
   * Starts every job of a lease reply; returns how many were leased. `full`: the call asked for
   * jobs, so its due time covers the limits too; the reply of one that asked for none (an ack while
   * the worker waits, or while every slot is busy) leaves a sooner timer as it is.
   */
  private take(reply: LeaseReply, full: boolean): number {
    this.keepResults = reply.keepResults;
    this.armDueTimer(reply.nextInMs, full);
    if (this.state === 'running') this.d.scheduleIn(reply.scheduleInMs);
    if (this.state === 'running') for (const job of reply.jobs) this.d.start(job);
    // a lease call that was in flight when close() began: hand those jobs straight back
    else if (reply.jobs.length > 0) this.d.late(reply.jobs);
    return reply.jobs.length;
  }

  private pumpAt(at: number): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, Math.max(0, at - Date.now()));
  }

  /**
   * Redis checks blocking timeouts only a few times a second (its `hz`), so a
   * BLPOP timeout alone would run delayed jobs up to 100 ms late. A local timer
   * leases at the moment the next delayed job is due, the next lease expires or
   * a limit lets a job start; with no slot free it wakes an idle worker instead.
   * A reply that is not `full` (see take) only ever brings the timer forward.
   */
  private armDueTimer(nextInMs: number, full: boolean): void {
    if (!full && this.dueTimer && (nextInMs <= 0 || this.dueAt <= Date.now() + nextInMs)) return;
    clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    if (nextInMs <= 0 || nextInMs > this.d.maxIdleMs || this.state !== 'running') return;
    this.dueAt = Date.now() + nextInMs;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      if (this.free() - this.reserved <= 0) this.d.passWake();
      else this.wake();
    }, nextInMs);
    this.dueTimer.unref();
  }

  /**
   * Blocks on the wake lists until a job may be ready (a wake-up, a due time,
   * `maxIdleMs`, or close()). The lease call goes on the same connection
   * right behind the BLPOP: Redis runs it the moment the BLPOP returns, so
   * the wake-up and the leased jobs come back together, with no second round
   * trip (docs/design/022-lease-behind-the-wait.md).
   */
  private block(): void {
    if (this.blocking || this.state !== 'running') return;
    this.blocking = true;
    // while it waits, calls on the other connection only ack (they learn the next due time too), and
    // wake() ends the wait: this lease is the only one in flight, so jobs start in lease order
    const want = Math.max(0, Math.min(this.free() - this.reserved, this.batch));
    const pop = this.d.blocker.blpop(this.d.wakeKey, this.d.ownWakeKey, this.d.maxIdleMs / 1000);
    const lease = want > 0 ? this.d.leaseBlocked(this.leaseArgs(want)) : undefined;
    // either may fail before the other settles (a slot that moved, a closed connection): afterBlock reads both
    pop.catch(() => undefined);
    lease?.catch(() => undefined);
    this.parked = this.afterBlock(pop, lease, want);
  }

  private async afterBlock(pop: Promise<unknown>, lease: Promise<LeaseReply> | undefined, want: number): Promise<void> {
    let failed: Error | undefined;
    let reply: LeaseReply | undefined;
    try {
      await pop;
    } catch (err) {
      failed = err as Error;
    }
    if (lease) {
      try {
        reply = await lease;
      } catch (err) {
        failed ??= err as Error;
      }
    }
    this.blocking = false;
    this.unblocking = false;
    this.parked = undefined;
    clearTimeout(this.unblockTimer);
    if (this.state !== 'running') {
      // closing: give back what the lease brought, and leave nothing in the own wake list
      if (reply) this.take(reply, true);
      this.d.blocker.disconnect();
      await this.d.forgetUnblock().catch(() => undefined);
      for (const w of this.idleCalls.splice(0)) w();
      return;
    }
    if (failed) {
      this.d.error(failed);
      await sleep(100);
      this.wake();
      return;
    }
    if (!reply) {
      this.wake();
      return;
    }
    this.errorStreak = 0;
    this.starved = this.take(reply, true) < want;
    this.afterCall();
  }
}

/** 48 random bits in base 36: unique per lease call, cheap (no crypto needed: uniqueness, not secrecy). */
function nonce(): string {
  return Math.floor(Math.random() * 2 ** 48).toString(36);
}
