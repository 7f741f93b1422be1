// Helpers shared by the scenarios: timeouts, per-job Redis counters, filling a
// queue outside any measurement, one timed processing run, percentiles, and
// seeded random numbers so every library gets the same sequence.
import { BULK_CHUNK, chunks } from './libs.mjs';
import { ServerStats } from './redis-stats.mjs';

export const noop = async () => {};
export const payloads = (count, from = 0) => Array.from({ length: count }, (_, i) => ({ n: from + i }));
export const round = (x, digits) => Number(x.toFixed(digits));

/** Rejects after `ms` with a message naming `what`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `{ cmd: n }` divided by `jobs`, largest first. */
const perJobSorted = (counts, jobs) => Object.fromEntries(
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([cmd, n]) => [cmd, round(n / jobs, 4)]),
);

/** Redis counters of a run, per job: commands (by command), script calls, CPU, and µs spent per command. */
export function perJob(delta, jobs) {
  return {
    commandsPerJob: round(delta.commands / jobs, 4),
    scriptCallsPerJob: round(delta.scriptCalls / jobs, 4),
    redisCpuMsPer10k: round((delta.cpuSec * 1000 * 10_000) / jobs, 2),
    byCommand: perJobSorted(delta.byCommand, jobs),
    usecByCommand: perJobSorted(delta.usecByCommand, jobs),
  };
}

/**
 * Fills a queue through the library's own bulk add, outside any measurement.
 * With `priorities` (one bench priority per job), job i gets priorities[i];
 * with `groups` (one group key per job), job i goes to group groups[i].
 * `setup` goes to the producer as it is (libs.mjs: `{ keepCompleted, eventsOff, rateLimit }`).
 */
export async function prefill(ctx, lib, name, count, { priorities, groups, setup = {} } = {}) {
  const producer = lib.producer(ctx.server, name, setup);
  try {
    await producer.ready();
    for (const chunk of chunks(payloads(count), BULK_CHUNK)) {
      if (priorities) await producer.addBulkPrioritized(chunk.map((data) => ({ data, priority: priorities[data.n] })));
      else if (groups) await producer.addBulkGrouped(chunk.map((data) => ({ data, group: groups[data.n] })));
      else await producer.addBulk(chunk);
    }
  } finally {
    await producer.close();
  }
}

/**
 * Starts a worker on a pre-filled queue; resolves with jobs/s and the Redis
 * counters of the run, the queue's name and the id of the last job completed.
 * `priorities`, `groups` and `setup` as for prefill (`setup.keepCompleted` and
 * `setup.rateLimit` go to the worker as well); `handler` runs every job.
 */
export async function processRun(ctx, lib, { count, concurrency, priorities, groups, setup = {}, handler = noop, tag = `c${concurrency}` }) {
  const name = ctx.queue(tag);
  await prefill(ctx, lib, name, count, { priorities, groups, setup });
  const run = await timedRun(ctx, lib, name, { take: count, concurrency, handler, setup, exact: true });
  return { ...run, name };
}

/**
 * One worker on the filled queue `name`, timed from its start to its
 * `take`-th completion: { rate, delta, nodeCpuUsPerJob, lastId }. nodeCpuUsPerJob is this
 * process's CPU (user + system, every thread: the JIT's and the collector's too) over the
 * same span, per job. With `exact` the queue holds
 * just `take` jobs, and a completion more after close() means a job ran twice.
 */
export async function timedRun(ctx, lib, name, { take, concurrency, handler = noop, setup = {}, exact = false }) {
  let done = 0;
  let lastId;
  let finished;
  const allDone = new Promise((resolve) => (finished = resolve));
  const worker = lib.worker(ctx.server, name, {
    concurrency,
    handler,
    keepCompleted: setup.keepCompleted,
    rateLimit: setup.rateLimit,
    onCompleted: (id) => {
      lastId = id;
      if (++done === take) finished(performance.now());
    },
  });
  let closed = false;
  try {
    await worker.ready();
    const before = await ctx.stats.snapshot();
    const cpu = process.cpuUsage();
    const start = performance.now();
    worker.start();
    const end = await withTimeout(allDone, ctx.timeoutMs, `processing ${take} jobs`);
    const { user, system } = process.cpuUsage(cpu);
    const after = await ctx.stats.snapshot();
    closed = true;
    await worker.close();
    // every job completes exactly once: more would mean a job ran twice
    if (exact && done !== take) throw new Error(`${done} completions for ${take} jobs`);
    return { rate: take / ((end - start) / 1000), delta: ServerStats.delta(before, after), nodeCpuUsPerJob: round((user + system) / take, 2), lastId };
  } finally {
    if (!closed) await worker.close();
  }
}

/** The p-th percentile (nearest rank) of an ascending array. */
export const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

/**
 * `count` integers from `lo` to `hi` (inclusive), uniform, from a fixed seed
 * (mulberry32): the same sequence for every library, round and run.
 */
export function seededInts(count, lo, hi, seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => lo + Math.floor(next() * (hi - lo + 1)));
}
