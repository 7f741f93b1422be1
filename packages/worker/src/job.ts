import type { JsonValue, TraceContext } from '@kyoo/core';

/**
 * A job as the handler sees it.
 * @example
 * new Worker<{ imageUrl: string }>('images', async (job, signal) => {
 *   await makeThumbnails(job.data.imageUrl, { signal })
 *   return { sizes: 5 }
 * })
 */
export interface Job<T = unknown> {
  /** The job id (generated, or the `jobId` given at add). */
  readonly id: string;
  /** The payload given to `add()`. */
  readonly data: T;
  /** This run's number, 1 on the first run. */
  readonly attempt: number;
  /** Runs allowed before the job is dead-lettered. */
  readonly attempts: number;
  /** When it was added (producer clock, ms since epoch). */
  readonly createdAt: number;
  /** Its priority (0 = none). */
  readonly priority: number;
  /** For the job of a schedule's occurrence: the schedule's id and the occurrence (ms since epoch). */
  readonly schedule?: { readonly id: string; readonly occurrence: number };
  /**
   * The W3C trace context of the span that added the job (`traceparent`, and
   * `tracestate` if any), when its producer traced it; the same on every
   * attempt. Its trace id is the producer's, whether the run's span links to
   * it or is its child (the worker's `tracing.producer`); OpenTelemetry's W3C
   * propagator reads it as a carrier: `propagation.extract(ROOT_CONTEXT, job.traceContext)`.
   */
  readonly traceContext?: TraceContext;
  /**
   * Reports how far the run is: a number or a small object of JSON values (at
   * most 4 KB as JSON). It is kept as the job's latest progress (`getJob`),
   * written to the events stream, and handed to producers waiting with
   * `queue.result(id, { onProgress })`. Resolves `true` once written, `false`
   * when this run no longer holds the job (it was cancelled, or its lease was
   * lost), so nothing was written; rejects with `InvalidOptionError` for a
   * value JSON would not carry exactly, and with the Redis error when Redis
   * cannot be reached. While one report is on its way, later ones wait and
   * only the newest of them is sent: a handler may report as often as it
   * likes at the cost of at most one call in flight per job.
   * @example
   * await job.progress({ done: 3, of: 5 })
   */
  progress(value: JsonValue): Promise<boolean>;
}

/**
 * Runs one job. Resolve to complete it (the value is kept as its result when
 * the worker keeps completed jobs); throw or reject to fail this run.
 * `signal` aborts when the lease is lost, the job is cancelled
 * (`JobCancelledError`, at the worker's next heartbeat), the run times out,
 * or the worker shuts down past its grace period. Declare the parameter to receive it: a
 * handler whose declared arity is 1 (`async (job) => …`) gets a signal that
 * never aborts, which saves an `AbortController` per job.
 */
export type Handler<T = unknown, R = unknown> = (job: Job<T>, signal: AbortSignal) => Promise<R> | R;
