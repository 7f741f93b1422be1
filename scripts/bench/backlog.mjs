// A large backlog: sizes.backlog jobs waiting (1,000,000 in a full run, 50,000
// with --quick; the labels name the full run's counts), each
// with a `{ userId, url }` payload as a web app would add. Two figures:
//
//   memory per waiting job    Redis's used_memory after the fill, less before,
//                             over the job count (the fill is outside any clock)
//   backlog processing rate   one worker process at concurrency 100 takes the
//                             first sizes.process jobs (20,000) off the full queue:
//                             time from its start to that many completions. The
//                             `process` line runs the same worker on a queue of
//                             only that many jobs; the two should be equal (no
//                             per-job cost that grows with the backlog).
//
// The same fill and the same worker for every library; the rest of the backlog
// is deleted with the queue's keys afterwards.
import { BULK_CHUNK } from './libs.mjs';
import { ServerStats } from './redis-stats.mjs';
import { noop, perJob, withTimeout } from './measure.mjs';

export const BACKLOG_CONCURRENCY = 100;

/** The payload of backlog job i: a user id and an image URL, about as long as an app's. */
export const userPayload = (i) => ({ userId: 100_000 + (i % 900_000), url: `https://cdn.example.com/u/${100_000 + (i % 900_000)}/img-${i}.jpg` });

export const BACKLOG_METRICS = [
  { key: 'backlogRate', scenario: 'backlog', label: `process, concurrency ${BACKLOG_CONCURRENCY}, first 20,000 of a 1,000,000 backlog`, unit: 'jobs/s', better: 'higher' },
  { key: 'backlogMemoryPerJob', scenario: 'backlog', label: 'Redis memory per waiting job, 1,000,000 { userId, url }', unit: 'bytes', better: 'lower' },
];

export const backlog = {
  name: 'backlog',
  about: `1,000,000 waiting { userId, url } jobs: memory per job, and the rate of taking the first 20,000 at concurrency ${BACKLOG_CONCURRENCY}`,
  async run(ctx, lib) {
    const count = ctx.sizes.backlog;
    const take = Math.min(ctx.sizes.process, count);
    const name = ctx.queue('backlog');
    const producer = lib.producer(ctx.server, name);
    let memory;
    try {
      await producer.ready();
      await ctx.admin.lazyFreeDone();
      const before = await ctx.stats.snapshot();
      for (let i = 0; i < count; i += BULK_CHUNK) {
        await producer.addBulk(Array.from({ length: Math.min(BULK_CHUNK, count - i) }, (_, j) => userPayload(i + j)));
      }
      memory = ServerStats.delta(before, await ctx.stats.snapshot()).memory;
    } finally {
      await producer.close();
    }
    let done = 0;
    let finished;
    const allDone = new Promise((resolve) => (finished = resolve));
    const worker = lib.worker(ctx.server, name, {
      concurrency: BACKLOG_CONCURRENCY,
      handler: noop,
      onCompleted: () => {
        if (++done === take) finished(performance.now());
      },
    });
    try {
      await worker.ready();
      const before = await ctx.stats.snapshot();
      const start = performance.now();
      worker.start();
      const end = await withTimeout(allDone, ctx.timeoutMs, `taking ${take} jobs off a backlog of ${count}`);
      const after = await ctx.stats.snapshot();
      return {
        values: { backlogRate: take / ((end - start) / 1000), backlogMemoryPerJob: memory / count },
        details: { backlog: { jobs: count, taken: take, memoryBytes: memory, ...perJob(ServerStats.delta(before, after), take) } },
      };
    } finally {
      await worker.close();
    }
  },
};
