import type { EventEmitter } from 'node:events';

/**
 * Calls every listener of `event` with `args`, each on its own: a listener
 * that throws, or returns a promise that rejects, is handed to `onError` and
 * the other listeners still run. A user's listener never breaks the caller
 * (EventEmitter's own `emit` would throw the error into the worker's loop, or
 * leave an async listener's rejection unhandled, which ends the process).
 */
export function callListeners(
  emitter: EventEmitter,
  event: string,
  args: readonly unknown[],
  onError: (thrown: unknown) => void,
): void {
  // rawListeners keeps `once` wrappers, which remove themselves when called
  for (const listener of emitter.rawListeners(event) as ((...a: unknown[]) => unknown)[]) {
    try {
      const out = Reflect.apply(listener, emitter, args);
      if (typeof (out as { then?: unknown } | null)?.then === 'function') {
        (out as PromiseLike<unknown>).then(undefined, onError);
      }
    } catch (err) {
      onError(err);
    }
  }
}
