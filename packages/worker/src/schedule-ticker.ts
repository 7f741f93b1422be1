import { setLongTimeout, type LongTimer, type ScheduleFirer } from '@kyoo/core';

/** After a round that could not fire a due schedule (unreadable spec) or failed, "due now" waits this long. */
const QUIET_MS = 1000;

/**
 * The worker's part in firing schedules: every lease reply says when the
 * queue's next occurrence comes; the ticker keeps one timer for it and fires
 * (schedule-due, schedule-fire) when it runs out, whether or not the worker
 * has free slots. The firer's answer re-arms it for the next occurrence, so
 * between occurrences it sends nothing.
 */
export class ScheduleTicker {
  private timer: LongTimer | undefined;
  private at = 0;
  private quietUntil = 0;
  private stopped = false;

  constructor(
    private readonly firer: ScheduleFirer,
    private readonly error: (err: Error) => void,
  ) {}

  /** A lease reply's `scheduleInMs`: arm for it unless an earlier time is armed. */
  seen(inMs: number): void {
    if (inMs < 0 || this.stopped) return;
    if (inMs === 0 && Date.now() < this.quietUntil) return;
    if (this.timer && this.at <= Date.now() + inMs) return;
    this.arm(inMs);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.clear();
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer?.clear();
    this.at = Date.now() + ms;
    this.timer = setLongTimeout(() => this.fire(), ms).unref();
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    this.firer.fire().then(
      (r) => {
        if (r.held > 0) this.quietUntil = Date.now() + QUIET_MS;
        if (r.nextInMs > 0 && !this.stopped) this.arm(r.nextInMs);
      },
      (err: unknown) => {
        this.quietUntil = Date.now() + QUIET_MS;
        if (this.stopped) return;
        this.error(err as Error);
        this.arm(QUIET_MS);
      },
    );
  }
}
