/**
 * Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay
 * fires after 1 ms instead. kyoo accepts durations up to about 10 years
 * (`MAX_DURATION_MS`), so every timer that can carry a user's duration goes
 * through {@link setLongTimeout}, which waits in steps the timers can hold.
 */

/** Longest delay a Node timer honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer started by {@link setLongTimeout}. */
export interface LongTimer {
  /** Stops the timer; the callback will not run. */
  clear(): void;
  /** Lets the process exit while only this timer is pending. */
  unref(): LongTimer;
}

/**
 * Like `setTimeout`, for any delay up to `Number.MAX_SAFE_INTEGER` ms: a
 * delay longer than {@link MAX_TIMER_MS} is waited in steps, and the callback
 * runs once the whole delay has passed (measured on the monotonic clock).
 * @example
 * const timer = setLongTimeout(() => abort(), 35 * 24 * 3600 * 1000) // 35 days, not 1 ms
 * timer.clear()
 */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  const end = performance.now() + Math.max(0, ms);
  let handle: NodeJS.Timeout;
  let unrefd = false;
  const arm = (): void => {
    const left = end - performance.now();
    if (left <= MAX_TIMER_MS) {
      handle = setTimeout(fn, Math.max(0, Math.ceil(left)));
    } else {
      handle = setTimeout(arm, MAX_TIMER_MS);
    }
    if (unrefd) handle.unref();
  };
  arm();
  const timer: LongTimer = {
    clear: () => clearTimeout(handle),
    unref: () => {
      unrefd = true;
      handle.unref();
      return timer;
    },
  };
  return timer;
}
