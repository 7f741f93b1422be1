// Delayed-job lateness: how long after its due time a delayed job starts, with
// one idle worker waiting. The due time is taken on the producer's clock just
// before the add (`Date.now() + delay`), the start is the handler's `Date.now()`;
// producer and worker share this process, so both read the same clock.
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile, round, seededInts, withTimeout } from './measure.mjs';

/** Concurrency of the one waiting worker. */
const DELAYED_CONCURRENCY = 10;
/** Each job is due this far ahead of its add, uniform over the range (ms). */
const DELAY_MIN_MS = 50;
const DELAY_MAX_MS = 500;
/** Warm-up jobs (delay WARMUP_DELAY_MS each) before the measured ones, then an idle pause. */
const WARMUP_JOBS = 20;
const WARMUP_DELAY_MS = 20;
const IDLE_BEFORE_MS = 300;
const SEED = 0x5eed_de1a;

/** Records each job's first start (`Date.now()`); `started(n)` resolves once job n has started. */
function startTracker() {
  const startedAt = new Map();
  const waiters = new Map();
  let duplicates = 0;
  return {
    handler: async (data) => {
      const at = Date.now();
      if (startedAt.has(data.n)) {
        duplicates++;
        return;
      }
      startedAt.set(data.n, at);
      waiters.get(data.n)?.();
    },
    started: (n) => (startedAt.has(n) ? Promise.resolve() : new Promise((resolve) => waiters.set(n, resolve))),
    startedAt,
    duplicates: () => duplicates,
  };
}

export const delayed = {
  name: 'delayed',
  about: `lateness of delayed jobs (${DELAY_MIN_MS}-${DELAY_MAX_MS} ms ahead) with one idle worker at concurrency ${DELAYED_CONCURRENCY}`,
  async run(ctx, lib) {
    const count = ctx.sizes.delayed;
    const delays = seededInts(count, DELAY_MIN_MS, DELAY_MAX_MS, SEED);
    const name = ctx.queue('delayed');
    const tracker = startTracker();
    const producer = lib.producer(ctx.server, name);
    const worker = lib.worker(ctx.server, name, { concurrency: DELAYED_CONCURRENCY, handler: tracker.handler, delayedJobs: true });
    try {
      await Promise.all([producer.ready(), worker.ready()]);
      worker.start();
      const addDelayed = (n, delayMs) => {
        const dueAt = Date.now() + delayMs;
        return producer.addDelayed({ n }, { delayMs, dueAt }).then(() => dueAt);
      };

      // Warm-up, the same for every library: a few short-delayed jobs through the
      // whole path, then a pause so the worker is back to waiting idle.
      await withTimeout((async () => {
        for (let n = 0; n < WARMUP_JOBS; n++) await addDelayed(n, WARMUP_DELAY_MS);
        for (let n = 0; n < WARMUP_JOBS; n++) await tracker.started(n);
      })(), ctx.timeoutMs, `${WARMUP_JOBS} warm-up delayed jobs`);
      await sleep(IDLE_BEFORE_MS);

      // Measured: one add at a time, as requests would make them.
      const dueAt = new Map();
      const addStart = performance.now();
      for (let i = 0; i < count; i++) {
        const n = WARMUP_JOBS + i;
        dueAt.set(n, await addDelayed(n, delays[i]));
      }
      const addSeconds = (performance.now() - addStart) / 1000;
      await withTimeout(Promise.all([...dueAt.keys()].map((n) => tracker.started(n))), ctx.timeoutMs, `${count} delayed jobs`);

      const lateness = [...dueAt].map(([n, due]) => tracker.startedAt.get(n) - due).sort((a, b) => a - b);
      const mean = lateness.reduce((sum, x) => sum + x, 0) / lateness.length;
      return {
        values: { delayedP50: percentile(lateness, 50), delayedP99: percentile(lateness, 99) },
        details: {
          delayed: {
            jobs: count,
            concurrency: DELAYED_CONCURRENCY,
            delayMs: [DELAY_MIN_MS, DELAY_MAX_MS],
            addSeconds: round(addSeconds, 3),
            min: lateness[0],
            p90: percentile(lateness, 90),
            max: lateness.at(-1),
            mean: round(mean, 2),
            // started before their due time (lateness below 0): a library must never do that
            early: lateness.filter((x) => x < 0).length,
            duplicateStarts: tracker.duplicates(),
          },
        },
      };
    } finally {
      await worker.close();
      await producer.close();
    }
  },
};

export const DELAYED_METRICS = [
  { key: 'delayedP50', scenario: 'delayed', label: 'delayed-job lateness p50', unit: 'ms', better: 'lower' },
  { key: 'delayedP99', scenario: 'delayed', label: 'delayed-job lateness p99', unit: 'ms', better: 'lower' },
];
