import { HandlerError, JobTimeoutError, setLongTimeout, type LongTimer } from '@kyoo/core';
import type { Handler, Job } from './job.js';

/** Turns whatever a handler threw into an `Error` with a readable message. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  let text: string;
  try {
    text = typeof thrown === 'string' ? thrown : JSON.stringify(thrown) ?? String(thrown);
  } catch {
    try {
      text = String(thrown);
    } catch {
      text = Object.prototype.toString.call(thrown); // no toString at all, e.g. Object.create(null)
    }
  }
  return new HandlerError(`handler threw a non-Error value: ${text.slice(0, 500)}`, { cause: thrown });
}

/**
 * Runs a handler and reports its outcome through `done` / `failed` (exactly
 * one of them, once). A synchronous result or throw is reported without
 * allocating a promise. With `timeoutMs` > 0 the run fails with
 * {@link JobTimeoutError} when it takes longer (the signal, if any, is aborted;
 * the handler is not waited for).
 */
export function runHandler<T, R>(
  handler: Handler<T, R>,
  job: Job<T>,
  controller: AbortController | undefined,
  timeoutMs: number,
  done: (result: R) => void,
  failed: (err: unknown) => void,
): void {
  let settled = false;
  let timer: LongTimer | undefined;
  const ok = (value: R): void => {
    if (settled) return;
    settled = true;
    timer?.clear();
    done(value);
  };
  const fail = (err: unknown): void => {
    if (settled) return;
    settled = true;
    timer?.clear();
    failed(toError(err));
  };
  let out: Promise<R> | R;
  try {
    out = handler(job, (controller?.signal ?? NO_SIGNAL));
  } catch (err) {
    fail(err);
    return;
  }
  if (!isThenable(out)) {
    ok(out);
    return;
  }
  if (timeoutMs > 0) {
    timer = setLongTimeout(() => {
      const err = new JobTimeoutError(job.id, timeoutMs);
      controller?.abort(err);
      fail(err);
    }, timeoutMs);
  }
  out.then(ok, fail);
}

/**
 * The signal given to handlers that do not declare a second parameter: it
 * never aborts, and costs nothing per job.
 */
const NO_SIGNAL: AbortSignal = new AbortController().signal;

function isThenable<R>(value: Promise<R> | R): value is Promise<R> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
