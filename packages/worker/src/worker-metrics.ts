import { randomBytes } from 'node:crypto';
import { Histogram, setLongTimeout, type LongTimer } from '@kyoo/core';

/**
 * A worker's metrics: the wait and processing time it observes, added to the
 * queue's `metrics` hash in Redis every `flushMs` (one call, only when it
 * observed something) and at close, so the histograms of all workers sum up
 * there; and its slots, said with every lease and ack call. Counters of jobs
 * (completed, failed, ...) are not here: the scripts count them.
 */
export class WorkerMetrics {
  /** This worker's id in the `workers` hash. */
  readonly id = randomBytes(6).toString('base64url');
  private readonly wait = new Histogram();
  private readonly proc = new Histogram();
  private timer: LongTimer | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly flushMs: number,
    private readonly send: (args: { gone: string; deltas: { field: string; by: number }[] }) => Promise<unknown>,
    private readonly error: (err: Error) => void,
  ) {}

  /** A run started `ms` after its job became runnable. */
  waited(ms: number): void {
    this.wait.observe(ms);
    this.arm();
  }

  /** A run took `ms`, start to end (completed or failed). */
  ran(ms: number): void {
    this.proc.observe(ms);
    this.arm();
  }

  /** Sends what is left and takes this worker out of the slot gauges. */
  async close(): Promise<void> {
    this.timer?.clear();
    this.timer = undefined;
    await this.flushing;
    await this.flush(this.id);
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setLongTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush('').finally(() => (this.flushing = undefined));
    }, this.flushMs).unref();
  }

  private async flush(gone: string): Promise<void> {
    const deltas = [...this.wait.take('wait'), ...this.proc.take('proc')];
    if (deltas.length === 0 && gone === '') return;
    try {
      await this.send({ gone, deltas });
    } catch (err) {
      // observations of one flush are lost rather than sent twice; Redis errors are the worker's to report
      this.error(err as Error);
    }
  }
}
