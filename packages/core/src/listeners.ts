import type { EventEmitter } from 'node:events';

type Listener = (...args: unknown[]) => unknown;

/**
 * Calls the listeners of an emitter's events each on its own: a listener that
 * throws, or returns a promise that rejects, is handed to `onError` and the
 * other listeners still run. A user's listener never breaks the caller
 * (EventEmitter's own `emit` would throw the error into the worker's loop, or
 * leave an async listener's rejection unhandled, which ends the process).
 *
 * The listener lists are cached per event (the worker emits per job) and
 * dropped whenever a listener is added or removed, `once` wrappers included.
 */
export class Listeners {
  private readonly cache = new Map<string | symbol, Listener[]>();

  constructor(private readonly emitter: EventEmitter) {
    const drop = (event: string | symbol): void => void this.cache.delete(event);
    emitter.on('newListener', drop);
    emitter.on('removeListener', drop);
  }

  call(event: string, args: readonly unknown[], onError: (thrown: unknown) => void): void {
    let list = this.cache.get(event);
    if (!list) {
      // rawListeners keeps `once` wrappers, which remove themselves when called
      list = this.emitter.rawListeners(event) as Listener[];
      this.cache.set(event, list);
    }
    for (const listener of list) {
      try {
        const out = Reflect.apply(listener, this.emitter, args);
        if (typeof (out as { then?: unknown } | null)?.then === 'function') {
          (out as PromiseLike<unknown>).then(undefined, onError);
        }
      } catch (err) {
        onError(err);
      }
    }
  }
}
