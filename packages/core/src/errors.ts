/** Every error code kyoo raises. Callers branch on `code`, never on the message. */
export type KyooErrorCode =
  | 'INVALID_OPTION'
  | 'PAYLOAD_TOO_LARGE'
  | 'LEASE_LOST'
  | 'CONNECTION_CLOSED'
  | 'DECODE_FAILED'
  | 'JOB_TIMEOUT'
  | 'HANDLER_FAILED'
  | 'LISTENER_FAILED'
  | 'QUEUE_FULL'
  | 'JOB_CANCELLED'
  | 'RECORD_VERSION'
  | 'NOT_DURABLE'
  | 'SCHEDULE_FAILED'
  | 'EVENTS_GAP'
  | 'JOB_FAILED'
  | 'JOB_NOT_FOUND'
  | 'WAIT_TIMEOUT'
  | 'TOPIC_BUSY'
  | 'REDRIVE_REFUSED'
  | 'BACK_OFF';

/** Base class of every error kyoo throws or emits. */
export class KyooError extends Error {
  override readonly name: string = 'KyooError';
  readonly code: KyooErrorCode;
  constructor(code: KyooErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** An option or argument is invalid. Thrown before anything is written to Redis. */
export class InvalidOptionError extends KyooError {
  override readonly name = 'InvalidOptionError';
  /** The option or argument to change, e.g. `attempts` or `backoff.delayMs`. */
  readonly option: string;
  constructor(option: string, message: string) {
    super('INVALID_OPTION', `invalid ${option}: ${message}`);
    this.option = option;
  }
}

/** A payload is larger than `maxPayloadBytes`. Thrown before anything is written. */
export class PayloadTooLargeError extends KyooError {
  override readonly name = 'PayloadTooLargeError';
  constructor(
    readonly sizeBytes: number,
    readonly limitBytes: number,
  ) {
    super(
      'PAYLOAD_TOO_LARGE',
      `job payload is ${sizeBytes} bytes encoded, over the limit of ${limitBytes}; raise maxPayloadBytes or store the data elsewhere and enqueue a reference`,
    );
  }
}

/**
 * A worker's lease on a job is gone (it expired and the job was reclaimed, or
 * the job was removed): the ack, fail or extend was refused and nothing was changed.
 */
export class LeaseLostError extends KyooError {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly jobId: string,
    readonly operation: 'ack' | 'fail' | 'extend' | 'release' | 'backOff',
  ) {
    super(
      'LEASE_LOST',
      `lease on job ${jobId} was lost before ${operation}; the job is handled elsewhere (raise leaseMs if handlers outlive it)`,
    );
  }
}

/** The queue or worker was closed; the call was not sent. */
export class ConnectionClosedError extends KyooError {
  override readonly name = 'ConnectionClosedError';
  constructor(what: string) {
    super('CONNECTION_CLOSED', `${what} is closed`);
  }
}

/** A job record or payload could not be decoded. */
export class DecodeError extends KyooError {
  override readonly name = 'DecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('DECODE_FAILED', message, options);
  }
}

/** A handler ran longer than its `timeoutMs`. */
export class JobTimeoutError extends KyooError {
  override readonly name = 'JobTimeoutError';
  constructor(jobId: string, timeoutMs: number) {
    super('JOB_TIMEOUT', `job ${jobId} timed out after ${timeoutMs} ms`);
  }
}

/** A handler threw (or rejected with) something that is not an `Error`. */
export class HandlerError extends KyooError {
  override readonly name = 'HandlerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('HANDLER_FAILED', message, options);
  }
}

/**
 * A listener of yours threw (or its promise rejected) while kyoo called it.
 * The worker carries on; this error is emitted as an `'error'` event, with
 * what was thrown as `cause`.
 */
export class ListenerError extends KyooError {
  override readonly name = 'ListenerError';
  constructor(
    /** The event whose listener threw, e.g. `completed`. */
    readonly event: string,
    cause: unknown,
  ) {
    super('LISTENER_FAILED', `a '${event}' listener threw: ${describeThrown(cause)}; the worker carried on`, { cause });
  }
}

function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  try {
    return String(thrown);
  } catch {
    return Object.prototype.toString.call(thrown);
  }
}

/**
 * The queue holds as many waiting jobs as its policy's `maxWaiting` allows:
 * the add was refused and nothing was written (for `addBulk`, none of its jobs).
 * Shed load, retry later, or raise `maxWaiting` with `queue.setPolicy()`.
 */
export class QueueFullError extends KyooError {
  override readonly name = 'QueueFullError';
  constructor(
    readonly queue: string,
    /** Jobs refused by this call. */
    readonly refused: number,
  ) {
    super('QUEUE_FULL', `queue ${queue} is full (its policy's maxWaiting): ${refused} job(s) refused, nothing written; retry later or raise maxWaiting`);
  }
}

/** Longest back-off a handler may ask for (about 11.5 days). */
const MAX_BACK_OFF_MS = 1_000_000_000;

/**
 * Thrown by a handler to make the queue back off, say on an HTTP 429 from the
 * service its jobs call: the job goes back without using an attempt, ahead
 * of the others, and no job starts for `delayMs`: none of the queue's on any
 * worker (`scope: 'queue'`, the default), or none of the job's group
 * (`scope: 'group'`; a job without a group just waits `delayMs` itself).
 * A bad `delayMs` throws {@link InvalidOptionError} here, which fails the run.
 * @example
 * if (res.status === 429) throw new BackOffError(Number(res.headers.get('retry-after')) * 1000 || 30_000)
 */
export class BackOffError extends KyooError {
  override readonly name = 'BackOffError';
  readonly delayMs: number;
  readonly scope: 'queue' | 'group';
  constructor(delayMs: number, options: { scope?: 'queue' | 'group'; cause?: unknown } = {}) {
    super('BACK_OFF', `the handler asked to back off for ${delayMs} ms (${options.scope ?? 'queue'})`, { cause: options.cause });
    if (!Number.isInteger(delayMs) || delayMs < 1 || delayMs > MAX_BACK_OFF_MS) {
      throw new InvalidOptionError('delayMs', `expected an integer from 1 to ${MAX_BACK_OFF_MS} ms, got ${String(delayMs).slice(0, 40)}`);
    }
    const scope = options.scope ?? 'queue';
    if (scope !== 'queue' && scope !== 'group') throw new InvalidOptionError('scope', `expected 'queue' or 'group', got ${String(scope).slice(0, 40)}`);
    this.delayMs = delayMs;
    this.scope = scope;
  }
}

/** The reason a handler's signal aborts when its job is cancelled (`queue.cancel(id)`). */
export class JobCancelledError extends KyooError {
  override readonly name = 'JobCancelledError';
  constructor(readonly jobId: string) {
    super('JOB_CANCELLED', `job ${jobId} was cancelled; its outcome will not be recorded`);
  }
}

/**
 * A worker leased a job whose record was written by a newer kyoo (a newer
 * record schema version). The job was released untouched, without using an
 * attempt, for a newer worker to run: upgrade this worker.
 */
export class RecordVersionError extends KyooError {
  override readonly name = 'RecordVersionError';
  constructor(
    readonly jobId: string,
    readonly version: number,
    readonly supported: number,
  ) {
    super('RECORD_VERSION', `job ${jobId} has a record of version ${version}, newer than this worker's ${supported}; released untouched for a newer worker (upgrade this one)`);
  }
}

/**
 * A schedule could not fire: its spec cannot be read by this kyoo, or a full
 * queue refused its occurrences. Emitted as an `'error'` event by the worker
 * or scheduler that tried; the schedule itself is left as it was.
 */
export class ScheduleError extends KyooError {
  override readonly name = 'ScheduleError';
  constructor(
    /** The schedule's id. */
    readonly schedule: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('SCHEDULE_FAILED', `schedule ${schedule}: ${message}`, options);
  }
}

/** A job that was awaited ended in the dead-letter queue; `lastError` is its final error. */
export class JobFailedError extends KyooError {
  override readonly name = 'JobFailedError';
  constructor(
    readonly jobId: string,
    /** The job's last error as recorded (name, message, stack, attempt). */
    readonly lastError: { name: string; message: string; stack?: string; attempt: number } | undefined,
  ) {
    super('JOB_FAILED', `job ${jobId} was dead-lettered: ${lastError ? `${lastError.name}: ${lastError.message}` : 'no error recorded'}`);
  }
}

/** No job with that id exists (it never did, or it ended and was not kept, or it was removed). */
export class JobNotFoundError extends KyooError {
  override readonly name = 'JobNotFoundError';
  constructor(readonly jobId: string) {
    super('JOB_NOT_FOUND', `job ${jobId} does not exist (or it ended and the queue policy did not keep it)`);
  }
}

/** A wait for a job's outcome ran out of time; the job itself goes on. */
export class WaitTimeoutError extends KyooError {
  override readonly name = 'WaitTimeoutError';
  constructor(readonly jobId: string, timeoutMs: number) {
    super('WAIT_TIMEOUT', `job ${jobId} did not finish within ${timeoutMs} ms (it goes on; wait again or look with getJob)`);
  }
}
