import {
  HISTOGRAM_BOUNDS_MS,
  InvalidOptionError,
  bucketField,
  type HistogramName,
  type QueueKeys,
  type RedisConnection,
} from '@kyoo/core';
import { redisNow } from './dead-filter.js';
import { execValues } from './exec.js';
import type { QueueCounts } from './queue.js';
import { oldestWaiting } from './stats.js';

/** One histogram as Redis holds it, summed over every worker. */
export interface HistogramSnapshot {
  /** Upper bounds (ms) of the buckets, without the last (+Inf). */
  boundsMs: readonly number[];
  /** Observations per bucket, cumulative (`counts[i]` ≤ boundsMs[i]); the last is the total (+Inf). */
  cumulative: number[];
  /** Sum of the observations, ms. */
  sumMs: number;
  count: number;
}

/** A queue's metrics, read from Redis: the same in every process. */
export interface QueueMetrics {
  queue: string;
  /** Jobs per event, since the queue's metrics began (counted by the scripts that made the change). */
  counters: {
    added: number;
    started: number;
    completed: number;
    failed: number;
    retried: number;
    dead: number;
    cancelled: number;
    leaseExpired: number;
    /** Runs that ended in a handler's `BackOffError` (the job went back, no attempt used). */
    backedOff: number;
    replayed: number;
    removed: number;
  };
  /** Time from when a job became runnable (delays and backoff excluded) to its run's start. */
  wait: HistogramSnapshot;
  /** A run's time from its start to its end (completed or failed). */
  processing: HistogramSnapshot;
  /** Read at the moment of the call. */
  gauges: {
    ready: number;
    delayed: number;
    running: number;
    dead: number;
    completed: number;
    cancelled: number;
    paused: boolean;
    /** Age of the oldest job waiting to run (ms, by its created-at), 0 when none waits. */
    oldestWaitingMs: number;
    /** Workers seen recently (each says so with its lease and ack calls). */
    workers: number;
    busySlots: number;
    idleSlots: number;
  };
}

const COUNTERS: [keyof QueueMetrics['counters'], string][] = [
  ['added', 'added'], ['started', 'started'], ['completed', 'completed'], ['failed', 'failed'], ['retried', 'retried'],
  ['dead', 'dead'], ['cancelled', 'cancelled'], ['leaseExpired', 'lease-expired'], ['backedOff', 'backed-off'],
  ['replayed', 'replayed'], ['removed', 'removed'],
];

/**
 * Reads a queue's metrics (given its counts, as `queue.counts()` read them):
 * a handful of commands, none whose cost grows with the queue.
 */
export async function readMetrics(redis: RedisConnection, keys: QueueKeys, queue: string, counts: QueueCounts): Promise<QueueMetrics> {
  const [m, workerSlots] = (await execValues(redis.multi().hgetall(keys.metrics).hgetall(keys.workers))) as Record<string, string>[];
  const now = await redisNow(redis);
  const oldest = await oldestWaiting(redis, keys, now);
  let workers = 0;
  let busy = 0;
  let slots = 0;
  for (const value of Object.values(workerSlots!)) {
    const [b, s, until] = value.split(',').map(Number) as [number, number, number];
    if (!(until >= now)) continue;
    workers++;
    busy += Math.min(b, s);
    slots += s;
  }
  const counters = {} as QueueMetrics['counters'];
  for (const [name, field] of COUNTERS) counters[name] = Number(m![field] ?? 0);
  const c = counts;
  return {
    queue,
    counters,
    wait: histogram(m!, 'wait'),
    processing: histogram(m!, 'proc'),
    gauges: {
      ready: c.ready, delayed: c.delayed, running: c.leased, dead: c.dead, completed: c.completed, cancelled: c.cancelled, paused: c.paused,
      oldestWaitingMs: oldest?.ageMs ?? 0, workers, busySlots: busy, idleSlots: slots - busy,
    },
  };
}

function histogram(m: Record<string, string>, name: HistogramName): HistogramSnapshot {
  const cumulative: number[] = [];
  let total = 0;
  for (let i = 0; i <= HISTOGRAM_BOUNDS_MS.length; i++) {
    total += Number(m[bucketField(name, i)] ?? 0);
    cumulative.push(total);
  }
  return { boundsMs: HISTOGRAM_BOUNDS_MS, cumulative, sumMs: Number(m[`${name}:sum`] ?? 0), count: Number(m[`${name}:count`] ?? 0) };
}

/** Options of {@link prometheusText}. */
export interface PrometheusOptions {
  /**
   * Histogram bucket bounds to show, in ms: any subset of the bounds workers
   * record ({@link HISTOGRAM_BOUNDS_MS}, a 1-2-5 series from 1 ms to 1 hour).
   * @defaultValue `[5, 10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000, 500000, 3600000]`
   */
  bucketsMs?: readonly number[];
}

const DEFAULT_BUCKETS_MS = [5, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000, 100_000, 500_000, 3_600_000];

/**
 * The Prometheus text exposition (format 0.0.4) of some queues' metrics:
 * base units (seconds), `_total` counters, one `queue` label (and `outcome`
 * or `state` where a family has several series).
 * @example
 * res.end(prometheusText([await images.metrics(), await emails.metrics()]))
 */
export function prometheusText(queues: readonly QueueMetrics[], options: PrometheusOptions = {}): string {
  const buckets = options.bucketsMs ?? DEFAULT_BUCKETS_MS;
  if (!Array.isArray(buckets) || buckets.length === 0 || buckets.some((b, i) => !HISTOGRAM_BOUNDS_MS.includes(b as never) || (i > 0 && b <= buckets[i - 1]!))) {
    throw new InvalidOptionError('bucketsMs', `expected increasing bounds among ${HISTOGRAM_BOUNDS_MS.join(', ')} (the bounds workers record)`);
  }
  const out: string[] = [];
  const family = (name: string, type: string, help: string, lines: string[]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  };
  const q = (m: QueueMetrics, extra = ''): string => `{queue="${escape(m.queue)}"${extra}}`;
  family('kyoo_jobs_added_total', 'counter', 'Jobs added to the queue.', queues.map((m) => `kyoo_jobs_added_total${q(m)} ${m.counters.added}`));
  family('kyoo_job_attempts_started_total', 'counter', 'Runs started (leases handed to a worker).', queues.map((m) => `kyoo_job_attempts_started_total${q(m)} ${m.counters.started}`));
  const outcomes: [string, keyof QueueMetrics['counters']][] = [
    ['completed', 'completed'], ['failed', 'failed'], ['retried', 'retried'], ['dead', 'dead'], ['cancelled', 'cancelled'], ['lease_expired', 'leaseExpired'],
    ['backed_off', 'backedOff'],
  ];
  family('kyoo_job_attempts_total', 'counter', 'Outcomes of runs: completed, failed (then retried or dead), cancelled, lease expired, backed off.',
    queues.flatMap((m) => outcomes.map(([o, key]) => `kyoo_job_attempts_total${q(m, `,outcome="${o}"`)} ${m.counters[key]}`)));
  family('kyoo_jobs_replayed_total', 'counter', 'Dead-lettered jobs replayed.', queues.map((m) => `kyoo_jobs_replayed_total${q(m)} ${m.counters.replayed}`));
  for (const [name, pick, help] of [
    ['kyoo_job_wait_seconds', (m: QueueMetrics) => m.wait, 'Time from when a job became runnable (delays and backoff excluded) to the start of its run.'],
    ['kyoo_job_processing_seconds', (m: QueueMetrics) => m.processing, 'Time of a run, from its start to its end.'],
  ] as const) {
    const lines: string[] = [];
    for (const m of queues) {
      const h = pick(m);
      for (const b of buckets) lines.push(`${name}_bucket${q(m, `,le="${b / 1000}"`)} ${h.cumulative[HISTOGRAM_BOUNDS_MS.indexOf(b as never)]}`);
      lines.push(`${name}_bucket${q(m, ',le="+Inf"')} ${h.cumulative[h.cumulative.length - 1]}`);
      lines.push(`${name}_sum${q(m)} ${h.sumMs / 1000}`, `${name}_count${q(m)} ${h.count}`);
    }
    family(name, 'histogram', help, lines);
  }
  const states: [string, keyof QueueMetrics['gauges']][] = [
    ['ready', 'ready'], ['delayed', 'delayed'], ['running', 'running'], ['dead', 'dead'], ['completed', 'completed'], ['cancelled', 'cancelled'],
  ];
  family('kyoo_jobs', 'gauge', 'Jobs in each state now (completed and cancelled: those the policy keeps).',
    queues.flatMap((m) => states.map(([s, key]) => `kyoo_jobs${q(m, `,state="${s}"`)} ${Number(m.gauges[key])}`)));
  family('kyoo_dead_letter_jobs', 'gauge', 'Jobs in the dead-letter queue.', queues.map((m) => `kyoo_dead_letter_jobs${q(m)} ${m.gauges.dead}`));
  family('kyoo_oldest_waiting_job_age_seconds', 'gauge', 'Age of the oldest job waiting to run (0 when none waits).',
    queues.map((m) => `kyoo_oldest_waiting_job_age_seconds${q(m)} ${m.gauges.oldestWaitingMs / 1000}`));
  family('kyoo_queue_paused', 'gauge', '1 when the queue is paused.', queues.map((m) => `kyoo_queue_paused${q(m)} ${m.gauges.paused ? 1 : 0}`));
  family('kyoo_workers', 'gauge', 'Workers seen recently.', queues.map((m) => `kyoo_workers${q(m)} ${m.gauges.workers}`));
  family('kyoo_worker_slots', 'gauge', 'Worker slots (concurrency), busy or idle, over the workers seen recently.',
    queues.flatMap((m) => [`kyoo_worker_slots${q(m, ',state="busy"')} ${m.gauges.busySlots}`, `kyoo_worker_slots${q(m, ',state="idle"')} ${m.gauges.idleSlots}`]));
  return `${out.join('\n')}\n`;
}

function escape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
