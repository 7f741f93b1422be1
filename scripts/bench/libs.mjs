// One adapter per library, so every scenario drives kyoo, BullMQ and bee-queue
// through the same small interface:
//
//   producer(server, queueName, { keepCompleted, eventsOff, rateLimit }) -> { ready(), add(data), addBulk(datas),
//     addDelayed(data, { delayMs, dueAt }), addBulkPrioritized([{ data, priority }]),
//     addBulkGrouped([{ data, group }]), schedule(id, { cron }), kept(id), close() }
//   worker(server, queueName, { concurrency, handler, onCompleted, delayedJobs, keepCompleted, rateLimit })
//     -> { ready(), start(), close() }
//   unsupported: { feature: reason }   features the library does not have
//     (`priority`, `schedule`, `eventsOff`, `storedResults`, `groups`, `rateLimit`)
//
// `handler(data, scheduledAt)` is the bench's job function (`scheduledAt`: for the job of
// a schedule's occurrence, the occurrence time in ms, else undefined); `onCompleted(id)` is called once
// per job after the library reports it completed (its outcome is stored in Redis).
//
// `keepCompleted: N` (producer and worker of a queue alike) keeps completed jobs and
// their results instead of removing them, up to N or more; `eventsOff: true` asks a
// producer to turn its queue's events off (kyoo only: `unsupported.eventsOff` says why
// a peer cannot). Without them every library removes completed jobs (see below).
// `kept(id)` reads back, outside any measurement, how many completed jobs the queue
// holds and the stored result of job `id`: { completed, result, resultStored }.
// `rateLimit: { max, intervalMs }` (producer and worker of a queue alike) limits the
// queue's job starts to `max` per `intervalMs` across all its workers, set up the
// way each library documents it (a queue policy in kyoo, a Worker option in BullMQ).
// `addBulkGrouped` adds jobs with a group key: jobs of one group run one at a
// time, in the order added (kyoo's default group concurrency of 1).
// A worker is created stopped: the scenario awaits ready(), starts its clock,
// then calls start(). `delayedJobs: true` asks for whatever setting a library
// needs on its worker before delayed jobs run (only bee-queue has one).
//
// Priorities are given to the adapters in the bench's own terms: an integer
// from 1 to 10 where 10 is the most urgent. Each adapter maps that onto its
// library's scale, so every library gets the same jobs in the same urgency order.
//
// Each library is used idiomatically, with its documented defaults for delivery
// (kyoo: leases, fencing tokens and 3 attempts are always on; BullMQ: locks and
// the stalled-job checker; bee-queue: its stall detection and default retries).
// Every setting that differs from a library's defaults is listed and explained
// below, next to where it is set.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError, Queue as KyooQueue, Worker as KyooWorker } from 'kyoo';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import BeeQueue from 'bee-queue';

/** Splits `items` into arrays of at most `size`. */
export function chunks(items, size) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Adds and the largest batch one bulk call takes. */
export const BULK_CHUNK = 1000;

/** Bench priorities run from 1 to this, higher is more urgent. */
export const PRIORITY_LEVELS = 10;

/**
 * Thrown by a scenario or an adapter when a library does not take part in a
 * scenario (it lacks the feature): the table shows `n/a` and the reason is printed.
 */
export class NotApplicable extends Error {
  constructor(reason) {
    super(reason);
    this.name = 'NotApplicable';
  }
}

const kyoo = {
  name: 'kyoo',
  label: 'kyoo',
  producer(server, name, { keepCompleted, eventsOff = false, rateLimit } = {}) {
    // Queue: defaults (attempts 3 with backoff; adds made in the same tick travel as one call).
    // The events stream is on at its default (eventsMaxLen 10,000) unless `eventsOff`.
    const queue = new KyooQueue(name, { connection: server.url });
    // Keeping completed jobs and turning events off are queue policy in kyoo (held in
    // Redis, followed by every worker of the queue), set once before the first add:
    // keepCompleted: { count } keeps that many completed jobs with their results (no
    // age limit); eventsMaxLen: 0 writes no events; rateLimit: { max, intervalMs } limits
    // the queue's job starts across all its workers (a token bucket: up to `max` at once
    // after a quiet spell, then one every intervalMs / max).
    const policy = {
      ...(keepCompleted ? { keepCompleted: { count: keepCompleted } } : {}),
      ...(eventsOff ? { eventsMaxLen: 0 } : {}),
      ...(rateLimit ? { rateLimit: { max: rateLimit.max, intervalMs: rateLimit.intervalMs } } : {}),
    };
    return {
      ready: async () => {
        await queue.ready();
        if (Object.keys(policy).length > 0) await queue.setPolicy(policy);
      },
      add: (data) => queue.add(data),
      addBulk: (datas) => queue.addBulk(datas.map((data) => ({ data }))),
      addDelayed: (data, { delayMs }) => queue.add(data, { delayMs }),
      // kyoo's priority: an integer, higher runs first, so the bench's 1..10 goes as it is.
      // A build without priorities rejects the unknown option before writing anything:
      // that is reported as n/a, so the bench runs before and after the feature lands.
      // Any other error about `priority` (a value out of range, say) still fails the run.
      addBulkPrioritized: async (jobs) => {
        try {
          await queue.addBulk(jobs.map(({ data, priority }) => ({ data, opts: { priority } })));
        } catch (err) {
          if (err instanceof InvalidOptionError && /(^|\.)priority$/.test(err.option) && /unknown option/.test(err.message)) {
            throw new NotApplicable('no priority support in this build');
          }
          throw err;
        }
      },
      // kyoo's ordered groups: the `group` job option; the group concurrency stays at
      // its default of 1 (a group's jobs run one at a time, in the order added). A build
      // without groups rejects the unknown option before writing anything: n/a, as for
      // priorities above.
      addBulkGrouped: async (jobs) => {
        try {
          await queue.addBulk(jobs.map(({ data, group }) => ({ data, opts: { group } })));
        } catch (err) {
          if (err instanceof InvalidOptionError && /(^|\.)group$/.test(err.option) && /unknown option/.test(err.message)) {
            throw new NotApplicable('no group support in this build');
          }
          throw err;
        }
      },
      // A schedule; any running worker of the queue fires it (no scheduler process).
      schedule: (id, { cron }) => queue.schedules.upsert(id, { cron }),
      kept: async (id) => {
        const [counts, job] = await Promise.all([queue.counts(), queue.getJob(id)]);
        return { completed: counts.completed, result: job?.result, resultStored: job?.result !== undefined };
      },
      close: () => queue.close(),
    };
  },
  worker(server, name, { concurrency, handler, onCompleted }) {
    // Worker: defaults (delayed jobs need no setting), except `autostart: false` so the clock starts at run().
    // Completed jobs are removed at once by default; `keepCompleted` and `rateLimit` are
    // queue policy, set by the producer (above), so the worker takes no setting for them.
    const worker = new KyooWorker(name, async (job) => handler(job.data, job.schedule?.occurrence), {
      connection: server.url,
      concurrency,
      autostart: false,
    });
    if (onCompleted) worker.on('completed', (job) => onCompleted(job.id));
    worker.on('error', (err) => process.stderr.write(`kyoo worker error: ${err.message}\n`));
    return {
      // both of its connections (commands, blocking waits) connected
      ready: () => worker.ready(),
      start: () => worker.run(),
      close: () => worker.close(),
    };
  },
};

const bullmq = {
  name: 'bullmq',
  label: 'BullMQ',
  unsupported: {
    eventsOff: 'BullMQ always writes its events stream (streams.events.maxLen only bounds it)',
    groups: 'BullMQ keeps groups (per-group order, concurrency and rate limits) in BullMQ Pro, its paid tier; ' +
      'the open-source package has no equivalent (see docs/benchmarks.md)',
  },
  producer(server, name, { keepCompleted, eventsOff = false } = {}) {
    if (eventsOff) throw new Error(bullmq.unsupported.eventsOff);
    // (`rateLimit` is a Worker option in BullMQ: see worker() below.)
    // removeOnComplete: true is set on every job, as kyoo removes completed jobs by
    // default. removeOnFail stays at its default (failed jobs are kept), which is
    // what kyoo's dead-letter queue does; no job fails in these scenarios anyway.
    // With `keepCompleted`, removeOnComplete: false instead (BullMQ's default): every
    // completed job stays in the completed set with its return value (`returnvalue`
    // in the job's hash), with no bound. The bench gives kyoo a count of at least the
    // number of jobs, so in both libraries every job of a run stays kept and none is
    // dropped for retention during it. The events stream (streams.events.maxLen)
    // stays at its default (about 10,000 entries, trimmed with MAXLEN ~) in every
    // scenario; BullMQ's scripts write it on every state change, with no setting to
    // turn it off.
    const queue = new BullQueue(name, {
      connection: { host: server.host, port: server.port },
      defaultJobOptions: { removeOnComplete: !keepCompleted },
    });
    return {
      ready: () => queue.waitUntilReady(),
      add: (data) => queue.add('job', data),
      addBulk: (datas) => queue.addBulk(datas.map((data) => ({ name: 'job', data }))),
      // `delay` in ms; a Worker promotes due delayed jobs itself (BullMQ 5+ has no QueueScheduler).
      addDelayed: (data, { delayMs }) => queue.add('job', data, { delay: delayMs }),
      // BullMQ's priority: 1 is the highest, larger numbers run later (0 means none, and
      // runs before every prioritized job). The bench's 10 (most urgent) becomes 1.
      addBulkPrioritized: (jobs) => queue.addBulk(jobs.map(({ data, priority }) => ({
        name: 'job',
        data,
        opts: { priority: PRIORITY_LEVELS + 1 - priority },
      }))),
      addBulkGrouped: () => Promise.reject(new NotApplicable(bullmq.unsupported.groups)),
      // A job scheduler (BullMQ 5.16+, which replaces repeatable jobs); its Workers fire it.
      schedule: (id, { cron }) => queue.upsertJobScheduler(id, { pattern: cron }, { name: 'job', data: {} }),
      kept: async (id) => {
        const [completed, job] = await Promise.all([queue.getCompletedCount(), queue.getJob(id)]);
        const result = job?.returnvalue ?? undefined;
        return { completed, result, resultStored: result !== undefined };
      },
      close: () => queue.close(),
    };
  },
  worker(server, name, { concurrency, handler, onCompleted, keepCompleted, rateLimit }) {
    // Worker: `autorun: false` so the clock starts at run(); `removeOnComplete: true`
    // on the worker as well, so it holds whatever options a job was added with.
    // With `keepCompleted`, no removeOnComplete on the worker (its default keeps
    // completed jobs); the jobs' own removeOnComplete: false decides anyway.
    // With `rateLimit`, the Worker option `limiter: { max, duration }`, as BullMQ's
    // rate-limiting guide sets it up: the limit is global (one counter in Redis per
    // queue, whatever the number of workers): a fixed window, the first start of a
    // window sets its expiry to `duration`, and at `max` starts the workers wait
    // until it expires; jobs over the limit stay waiting.
    // a scheduler's job carries its occurrence time as opts.prevMillis
    const worker = new BullWorker(name, async (job) => handler(job.data, job.opts.prevMillis), {
      connection: { host: server.host, port: server.port },
      concurrency,
      autorun: false,
      ...(keepCompleted ? {} : { removeOnComplete: { count: 0 } }),
      ...(rateLimit ? { limiter: { max: rateLimit.max, duration: rateLimit.intervalMs } } : {}),
    });
    if (onCompleted) worker.on('completed', (job) => onCompleted(job.id));
    worker.on('error', (err) => process.stderr.write(`BullMQ worker error: ${err.message}\n`));
    return {
      ready: () => worker.waitUntilReady(),
      start: () => {
        worker.run().catch((err) => process.stderr.write(`BullMQ worker run failed: ${err.message}\n`));
      },
      close: () => worker.close(),
    };
  },
};

const bee = {
  name: 'bee',
  label: 'bee-queue',
  unsupported: {
    priority: 'bee-queue has no job priorities',
    schedule: 'bee-queue has no repeating jobs',
    eventsOff: 'bee-queue has no events stream (its job events are pub/sub messages, sent in every run)',
    storedResults: 'bee-queue 2.0.0 keeps the job but stores no result in Redis; the result goes out only in its pub/sub succeeded message',
    groups: 'bee-queue has no job groups',
    rateLimit: 'bee-queue has no rate limiter',
  },
  producer(server, name, { eventsOff = false, rateLimit } = {}) {
    if (eventsOff) throw new Error(bee.unsupported.eventsOff);
    if (rateLimit) throw new NotApplicable(bee.unsupported.rateLimit);
    // (`keepCompleted` is a worker setting in bee-queue: see worker() below.)
    // A producer-only Queue, as bee-queue documents for producers: isWorker: false
    // (no blocking connection), getEvents: false (no pub/sub subscription),
    // sendEvents: false and storeJobs: false (nothing listens for job events).
    // activateDelayedJobs stays off (its default) here as well: it has to be on in at
    // least one Queue, and the worker's is the one (see below). A delayed save
    // publishes the new earliest due time to the workers whatever this setting is.
    const queue = new BeeQueue(name, {
      redis: { host: server.host, port: server.port },
      isWorker: false,
      getEvents: false,
      sendEvents: false,
      storeJobs: false,
      activateDelayedJobs: false,
    });
    queue.on('error', (err) => process.stderr.write(`bee-queue producer error: ${err.message}\n`));
    return {
      ready: () => queue.ready(),
      add: (data) => queue.createJob(data).save(),
      addBulk: async (datas) => {
        const errors = await queue.saveAll(datas.map((data) => queue.createJob(data)));
        if (errors.size > 0) throw [...errors.values()][0];
      },
      addDelayed: (data, { dueAt }) => queue.createJob(data).delayUntil(dueAt).save(),
      addBulkPrioritized: () => Promise.reject(new NotApplicable(bee.unsupported.priority)),
      addBulkGrouped: () => Promise.reject(new NotApplicable(bee.unsupported.groups)),
      schedule: () => Promise.reject(new NotApplicable(bee.unsupported.schedule)),
      // bee-queue 2.0.0 stores no results: a kept job's record (the `jobs` hash)
      // holds its data, options, status and progress (Job#toData), and the result
      // travels only in the worker's pub/sub `succeeded` message.
      kept: async (id) => {
        const [health, job] = await Promise.all([queue.checkHealth(), queue.getJob(id)]);
        return { completed: health.succeeded, result: undefined, resultStored: false, status: job?.status };
      },
      close: () => queue.close(),
    };
  },
  worker(server, name, { concurrency, handler, onCompleted, delayedJobs = false, keepCompleted, rateLimit }) {
    if (rateLimit) throw new NotApplicable(bee.unsupported.rateLimit);
    // A worker Queue: removeOnSuccess: true (kyoo removes completed jobs by default);
    // removeOnFailure stays false (failed jobs are kept, like kyoo's dead-letter queue).
    // getEvents: false and storeJobs: false, as nothing in this process listens for
    // other workers' job events. sendEvents stays on (its default): that is how a
    // bee-queue producer learns that its job finished. activateDelayedJobs is on only
    // where a scenario adds delayed jobs (it costs a pub/sub connection): without it no
    // delayed job ever runs. delayedDebounce (1000 ms) and nearTermWindow (20 minutes)
    // stay at their defaults, which the README describes and does not advise changing.
    // By design, jobs due within delayedDebounce of the earliest one are activated
    // together when the latest of them is due, so a job may start up to that much late.
    // With `keepCompleted`, removeOnSuccess: false (bee-queue's default): the worker
    // writes each succeeded job's record back to the `jobs` hash and adds its id to
    // the `succeeded` set; bee-queue keeps no result there (see kept() above), and it
    // has no bound on how many are kept. The result goes out in the `succeeded`
    // pub/sub message (sendEvents, on as in every run), which is how bee-queue hands
    // results to producers. storeJobs stays false: the README describes it as
    // associating events with in-memory Job instances in this process (what a
    // producer waiting on job.on('succeeded') needs), not as keeping anything in Redis.
    const queue = new BeeQueue(name, {
      redis: { host: server.host, port: server.port },
      isWorker: true,
      getEvents: false,
      storeJobs: false,
      removeOnSuccess: !keepCompleted,
      activateDelayedJobs: delayedJobs,
    });
    if (onCompleted) queue.on('succeeded', (job) => onCompleted(job.id));
    queue.on('error', (err) => process.stderr.write(`bee-queue worker error: ${err.message}\n`));
    return {
      ready: () => queue.ready(),
      start: () => queue.process(concurrency, async (job) => handler(job.data)),
      close: () => queue.close(10_000),
    };
  },
};

/** The libraries in the order they run within a round. */
export const LIBS = [kyoo, bullmq, bee];

/** The version field of the package.json nearest above `entry`. */
function packageVersion(entry) {
  let dir = path.dirname(fileURLToPath(entry));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (pkg.version) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

/** Installed versions of the three libraries. */
export function libraryVersions() {
  return {
    kyoo: packageVersion(import.meta.resolve('kyoo')),
    bullmq: packageVersion(import.meta.resolve('bullmq')),
    bee: packageVersion(import.meta.resolve('bee-queue')),
  };
}
