import {
  DEFAULT_PREFIX,
  InvalidOptionError,
  MAX_DURATION_MS,
  checkInt,
  checkKnownKeys,
  checkObject,
  type ConnectionOption,
} from '@kyoo/core';

/** Options of a {@link Worker}. */
export interface WorkerOptions {
  /** Redis URL, ioredis options or ioredis instance, or a Redis Cluster (see `ConnectionOption`); a second connection is opened for blocking waits. */
  connection?: ConnectionOption;
  /** Key prefix; must match the producers'. @defaultValue `'kyoo'` */
  prefix?: string;
  /**
   * Jobs run at once by this worker. While its handlers are quicker than a
   * round trip to Redis it also holds up to as many leased ahead, started as
   * slots free (docs/design/021-lease-ahead.md). @defaultValue `1`
   */
  concurrency?: number;
  /** Lease (visibility timeout): a job whose worker stops heartbeating for this long runs elsewhere. @defaultValue `30000` */
  leaseMs?: number;
  /** Heartbeat interval; one call extends every in-flight lease. @defaultValue `leaseMs / 3` */
  heartbeatMs?: number;
  /** Default per-run handler timeout (0 = none); a job's own `timeoutMs` wins. @defaultValue `0` */
  timeoutMs?: number;
  /**
   * Retry delay in ms for a failed run, given the attempt that failed
   * (1-based) and the error. When unset, the job's own `backoff` (set at add) applies.
   */
  backoff?: (attempt: number, error: Error) => number;
  /** How long `close()` waits for running jobs before releasing them. @defaultValue `10000` */
  closeGraceMs?: number;
  /**
   * Longest blocking wait while idle, after which the worker checks the queue
   * again anyway (a safety net: wake-ups and due-time timers do the real work).
   * @defaultValue `300000` (5 minutes)
   */
  maxIdleMs?: number;
  /** Start leasing at once; when `false`, call `run()`. @defaultValue `true` */
  autostart?: boolean;
  /**
   * How often (ms) the worker adds its wait and processing time observations
   * to the queue's metrics in Redis (one call, only when it observed
   * something; and once at close). @defaultValue `5000`
   */
  metricsFlushMs?: number;
  /** How runs are traced where `@opentelemetry/api` is installed (see the README's "Tracing"). */
  tracing?: TracingOptions;
}

/**
 * How a run's `process <queue>` span relates to the `send <queue>` span
 * that added its job.
 * @example
 * new Worker('images', handler, { tracing: { producer: 'parent' } })
 */
export interface TracingOptions {
  /**
   * - `'link'`: each run is a trace of its own, linked to the producer's span
   *   (OpenTelemetry's default for messaging: a job may wait for hours, and
   *   runs again on retries);
   * - `'parent'`: each run is a child of the producer's span, in its trace.
   * Either way the run's span links to the producer's, and the handler finds
   * the producer's trace context in `job.traceContext`.
   * @defaultValue `'link'`
   */
  producer?: 'link' | 'parent';
}

/** Worker options after validation. */
export interface ResolvedWorkerOptions {
  connection: ConnectionOption | undefined;
  prefix: string;
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  timeoutMs: number;
  backoff: ((attempt: number, error: Error) => number) | undefined;
  closeGraceMs: number;
  maxIdleMs: number;
  autostart: boolean;
  metricsFlushMs: number;
  tracing: { producer: 'link' | 'parent' };
}

const KNOWN = [
  'connection', 'prefix', 'concurrency', 'leaseMs', 'heartbeatMs', 'timeoutMs', 'backoff',
  'closeGraceMs', 'maxIdleMs', 'autostart', 'metricsFlushMs', 'tracing',
] as const;
const PRODUCER_RELATIONS = ['link', 'parent'] as const;

function resolveTracing(value: unknown): { producer: 'link' | 'parent' } {
  const t = checkObject<TracingOptions>('tracing', value);
  checkKnownKeys('tracing', t, ['producer']);
  const producer = t.producer ?? 'link';
  if (!PRODUCER_RELATIONS.includes(producer)) {
    throw new InvalidOptionError('tracing.producer', `expected 'link' (a trace per run, linked to the producer's span) or 'parent' (a child of the producer's span), got ${JSON.stringify(String(producer)).slice(0, 40)}`);
  }
  return { producer };
}

/** Validates worker options; throws {@link InvalidOptionError} naming the option. */
export function resolveWorkerOptions(options: unknown): ResolvedWorkerOptions {
  const o = checkObject<WorkerOptions>('options', options);
  for (const moved of ['keepCompleted', 'maxErrors'] as const) {
    if (moved in o) {
      throw new InvalidOptionError(`options.${moved}`, `${moved} is queue policy now, shared by every worker: set it with queue.setPolicy({ ${moved} })`);
    }
  }
  checkKnownKeys('options', o, KNOWN);
  const leaseMs = checkInt('leaseMs', o.leaseMs ?? 30_000, 100, MAX_DURATION_MS);
  const heartbeatMs = checkInt('heartbeatMs', o.heartbeatMs ?? Math.max(50, Math.floor(leaseMs / 3)), 10, leaseMs - 1);
  if (o.backoff !== undefined && typeof o.backoff !== 'function') {
    throw new InvalidOptionError('backoff', 'expected a function (attempt, error) => ms; set per-job backoff objects on add()');
  }
  if (o.autostart !== undefined && typeof o.autostart !== 'boolean') {
    throw new InvalidOptionError('autostart', 'expected a boolean');
  }
  return {
    connection: o.connection,
    prefix: o.prefix ?? DEFAULT_PREFIX,
    concurrency: checkInt('concurrency', o.concurrency ?? 1, 1, 10_000),
    leaseMs,
    heartbeatMs,
    timeoutMs: checkInt('timeoutMs', o.timeoutMs ?? 0, 0, MAX_DURATION_MS),
    backoff: o.backoff,
    closeGraceMs: checkInt('closeGraceMs', o.closeGraceMs ?? 10_000, 0, MAX_DURATION_MS),
    maxIdleMs: checkInt('maxIdleMs', o.maxIdleMs ?? 300_000, 10, 24 * 3600 * 1000),
    autostart: o.autostart ?? true,
    metricsFlushMs: checkInt('metricsFlushMs', o.metricsFlushMs ?? 5000, 100, 3_600_000),
    tracing: resolveTracing(o.tracing),
  };
}
