import { HandlerError, JobTimeoutError } from '@kyoo/core';
import type { Handler, Job } from './job.js';

/** Turns whatever a handler threw into an `Error` with a readable message. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  let text: string;
  try {
    text = typeof thrown === 'string' ? thrown : JSON.stringify(thrown) ?? String(thrown);
  } catch {
    text = String(thrown);
  }
  return new HandlerError(`handler threw a non-Error value: ${text.slice(0, 500)}`, { cause: thrown });
}

/**
 * Runs a handler and settles when it resolves, throws, or times out
 * (`timeoutMs` > 0). On timeout the signal is aborted and the returned promise
 * rejects with {@link JobTimeoutError}; the handler is not waited for.
 */
export function runHandler<T, R>(
  handler: Handler<T, R>,
  job: Job<T>,
  controller: AbortController,
  timeoutMs: number,
): Promise<R> {
  const run = new Promise<R>((resolve, reject) => {
    try {
      Promise.resolve(handler(job, controller.signal)).then(resolve, (e: unknown) => reject(toError(e)));
    } catch (e) {
      reject(toError(e));
    }
  });
  if (timeoutMs <= 0) return run;
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new JobTimeoutError(job.id, timeoutMs);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
    run.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
