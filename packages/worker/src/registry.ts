import type { DecodedRecord } from '@kyoo/core';

/** One run a worker holds: the lease's fencing token and the handler's abort controller. */
export interface InFlight {
  id: string;
  token: string;
  attempt: number;
  /** Aborts the handler's signal; absent when the handler does not take one. */
  controller: AbortController | undefined;
  /** Set when the lease is gone (lost, cancelled, or released at shutdown): the run's outcome is not reported. */
  released: boolean;
  record: DecodedRecord | undefined;
  /** The job as its handler sees it (set once the record is decoded), for events about this run. */
  job?: unknown;
  /** Leased ahead, waiting in the worker for a free slot (its handler has not started). */
  waiting?: boolean;
}

/**
 * The leases a worker holds, by fencing token: what the heartbeat extends,
 * what settling removes, what shutdown releases. The one piece of state the
 * worker's parts share.
 */
export class LeaseRegistry {
  private readonly byToken = new Map<string, InFlight>();
  private readonly emptied: (() => void)[] = [];
  private waitingCount = 0;

  /** Leases held: running and waiting. */
  get size(): number {
    return this.byToken.size;
  }

  /** Leases whose handler runs (or is settling). */
  get running(): number {
    return this.byToken.size - this.waitingCount;
  }

  add(entry: InFlight): void {
    this.byToken.set(entry.token, entry);
    if (entry.waiting) this.waitingCount++;
  }

  /** A waiting lease's handler starts. */
  started(entry: InFlight): void {
    if (entry.waiting && this.holds(entry)) this.waitingCount--;
    entry.waiting = false;
  }

  /** Forgets a run (its outcome is settled). */
  delete(entry: InFlight): void {
    if (this.byToken.get(entry.token) === entry) {
      this.byToken.delete(entry.token);
      if (entry.waiting) this.waitingCount--;
    }
    if (this.byToken.size === 0) for (const w of this.emptied.splice(0)) w();
  }

  /** Whether `entry` is still held (not settled). */
  holds(entry: InFlight): boolean {
    return this.byToken.get(entry.token) === entry;
  }

  /** Runs whose lease is still ours. */
  live(): InFlight[] {
    return [...this.byToken.values()].filter((e) => !e.released);
  }

  all(): InFlight[] {
    return [...this.byToken.values()];
  }

  /** Resolves when no run is held. */
  whenEmpty(): Promise<void> {
    if (this.byToken.size === 0) return Promise.resolve();
    return new Promise((r) => this.emptied.push(r));
  }
}
