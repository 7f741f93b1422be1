// A large backlog: sizes.backlog jobs waiting (1,000,000 in a full run, 50,000
// with --quick; the labels name the full run's counts), each
// with a `{ userId, url }` payload as a web app would add. Two figures:
//
//   memory per waiting job    Redis's used_memory after the fill, less before,
//                             over the job count (the fill is outside any clock)
//   backlog processing rate   one worker at concurrency 100 takes the first
//                             sizes.process jobs (20,000) off the full queue:
//                             time from its start to that many completions. The
//                             `backlog-small` scenario runs the same on a queue
//                             of only those 20,000 (same payloads, a process of
//                             its own). The two should be equal (no per-job cost
//                             that grows with the backlog).
//
// The same fill and the same worker for every library; the rest of the backlog
// is deleted with the queue's keys afterwards.
import { BULK_CHUNK } from './libs.mjs';
import { ServerStats } from './redis-stats.mjs';
import { perJob, timedRun } from './measure.mjs';

export const BACKLOG_CONCURRENCY = 100;

/** The payload of backlog job i: a user id and an image URL, about as long as an app's. */
export const userPayload = (i) => ({ userId: 100_000 + (i % 900_000), url: `https://cdn.example.com/u/${100_000 + (i % 900_000)}/img-${i}.jpg` });

export const BACKLOG_METRICS = [
  { key: 'backlogRate', scenario: 'backlog', label: `process, concurrency ${BACKLOG_CONCURRENCY}, first 20,000 of a 1,000,000 backlog`, unit: 'jobs/s', better: 'higher' },
  { key: 'backlogSmallRate', scenario: 'backlog-small', label: `… the same 20,000 { userId, url } jobs alone in the queue`, unit: 'jobs/s', better: 'higher' },
  { key: 'backlogMemoryPerJob', scenario: 'backlog', label: 'Redis memory per waiting job, 1,000,000 { userId, url }', unit: 'bytes', better: 'lower' },
];

/** Adds `count` backlog jobs to `name` through the library's bulk add; resolves with the Redis memory they took. */
async function fill(ctx, lib, name, count) {
  const producer = lib.producer(ctx.server, name);
  try {
    await producer.ready();
    await ctx.admin.lazyFreeDone();
    const before = await ctx.stats.snapshot();
    for (let i = 0; i < count; i += BULK_CHUNK) {
      await producer.addBulk(Array.from({ length: Math.min(BULK_CHUNK, count - i) }, (_, j) => userPayload(i + j)));
    }
    return ServerStats.delta(before, await ctx.stats.snapshot()).memory;
  } finally {
    await producer.close();
  }
}

export const backlog = {
  name: 'backlog',
  about: `1,000,000 waiting { userId, url } jobs: memory per job, and the rate of taking the first 20,000 at concurrency ${BACKLOG_CONCURRENCY}`,
  async run(ctx, lib) {
    const count = ctx.sizes.backlog;
    const take = Math.min(ctx.sizes.process, count);
    const name = ctx.queue('backlog');
    const memory = await fill(ctx, lib, name, count);
    const run = await timedRun(ctx, lib, name, { take, concurrency: BACKLOG_CONCURRENCY });
    return {
      values: { backlogRate: run.rate, backlogMemoryPerJob: memory / count },
      details: { backlog: { jobs: count, taken: take, memoryBytes: memory, ...perJob(run.delta, take) } },
    };
  },
};

/** The same worker and payloads on a queue of only the jobs it takes (a run, and so a process, of its own). */
export const backlogSmall = {
  name: 'backlog-small',
  about: `the backlog line's 20,000 { userId, url } jobs alone in the queue, concurrency ${BACKLOG_CONCURRENCY}`,
  async run(ctx, lib) {
    const take = Math.min(ctx.sizes.process, ctx.sizes.backlog);
    const name = ctx.queue('backlog-small');
    await fill(ctx, lib, name, take);
    const run = await timedRun(ctx, lib, name, { take, concurrency: BACKLOG_CONCURRENCY, exact: true });
    return { values: { backlogSmallRate: run.rate }, details: { backlogSmall: perJob(run.delta, take) } };
  },
};
