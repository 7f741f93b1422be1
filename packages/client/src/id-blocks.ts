import type { OwnedConnection } from '@kyoo/core';

/** Ids a queue reserves at a time. Unused ids of a block are skipped, never reused. */
const BLOCK = 1000;

/**
 * Hands out generated job ids from blocks reserved on the queue's `ids`
 * counter (`INCRBY`), one round trip per thousand adds. Because the id is
 * chosen before the enqueue call, a call that a client library resends after
 * a reconnect (its reply was lost) carries the same ids, and the enqueue
 * script recognises it instead of adding the jobs twice.
 */
export class IdBlocks {
  private next = 0;
  private end = 0; // exclusive
  private chain: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(
    private readonly conn: OwnedConnection,
    private readonly key: string,
  ) {}

  /** `n` fresh ids, in increasing order. Calls are served in call order. */
  take(n: number): Promise<string[]> {
    if (n === 0) return Promise.resolve([]);
    // while a refill is under way, later calls wait behind it so that adds keep their order
    if (this.waiting === 0 && this.end - this.next >= n) return Promise.resolve(this.slice(n));
    this.waiting++;
    const p = this.chain.then(async () => {
      const out = this.slice(Math.min(n, this.end - this.next));
      const missing = n - out.length;
      if (missing > 0) {
        const size = Math.max(missing, BLOCK);
        const top = await this.conn.redis.incrby(this.key, size);
        this.next = top - size + 1;
        this.end = top + 1;
        out.push(...this.slice(missing));
      }
      return out;
    });
    this.chain = p.catch(() => undefined).finally(() => this.waiting--);
    return p;
  }

  private slice(n: number): string[] {
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = String(this.next++);
    return out;
  }
}
