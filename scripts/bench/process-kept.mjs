// Processing with events on and completed jobs kept with their results: the
// `process` scenario's backlog (sizes.process pre-filled jobs, one worker process,
// time from the worker's start to the last completion), at concurrency 100 and at
// concurrency 1, where every handler returns a small result and the queue keeps
// every completed job:
//
//   kyoo       events stream at its default (on, eventsMaxLen 10,000);
//              setPolicy({ keepCompleted: { count: <jobs> } }) before the pre-fill
//   BullMQ     removeOnComplete: false on every job (completed set + returnvalue);
//              its events stream is always on, at its default maxLen (about 10,000)
//   bee-queue  removeOnSuccess: false on the worker (the job's record and the
//              succeeded set); it stores no result in Redis, the result goes out in
//              its pub/sub `succeeded` message (sendEvents, on as in every run)
//
// (libs.mjs explains each setting next to where it is set.) kyoo also runs the same
// backlog with its events off (eventsMaxLen: 0, results still kept), so one run
// gives kyoo's events-on and events-off numbers side by side: what events cost per
// job. The peers take part in the scenario and show n/a on that row only (the run
// returns `notApplicable: { processKeptNoEvents: reason }`, see index.mjs). kyoo's two runs take turns going first from one
// round to the next. After each run, outside the clock, the queue is read back: it
// must hold every job as completed, and (where the library stores results) the last
// completed job's result.
import { perJob, processRun, round } from './measure.mjs';

export const KEPT_CONCURRENCY = 100;
/** The same at concurrency 1, where every job costs a round trip: issue 14 holds this line to 1.5x BullMQ too. */
export const KEPT_CONCURRENCY_ONE = 1;

/** The handler's result, the same for every library. */
const result = (data) => ({ ok: true, n: data.n });
const handler = async (data) => result(data);


/** Reads back a finished run's queue: every job kept as completed, and the last one's result. */
async function checkKept(ctx, lib, run, count) {
  const producer = lib.producer(ctx.server, run.name);
  try {
    await producer.ready();
    const kept = await producer.kept(run.lastId);
    if (kept.completed !== count) throw new Error(`${kept.completed} completed jobs kept for ${count} jobs`);
    if (!lib.unsupported?.storedResults) {
      if (!kept.resultStored || kept.result?.ok !== true || typeof kept.result?.n !== 'number') {
        throw new Error(`job ${run.lastId} was kept without its result (${JSON.stringify(kept.result)})`);
      }
    }
    return { completedKept: kept.completed, resultStored: kept.resultStored };
  } finally {
    await producer.close();
  }
}

export const processKept = {
  name: 'process-kept',
  about: `process pre-filled jobs returning a result, events on, completed jobs and results kept, concurrency ${KEPT_CONCURRENCY}`,
  async run(ctx, lib) {
    const count = ctx.sizes.process;
    const variants = [
      { key: 'processKept', tag: 'kept', setup: { keepCompleted: count }, concurrency: KEPT_CONCURRENCY },
      { key: 'processKept1', tag: 'kept-c1', setup: { keepCompleted: count }, concurrency: KEPT_CONCURRENCY_ONE },
    ];
    const notApplicable = {};
    if (lib.unsupported?.eventsOff) notApplicable.processKeptNoEvents = `kyoo only: ${lib.unsupported.eventsOff}`;
    else variants.push({ key: 'processKeptNoEvents', tag: 'kept-noev', setup: { keepCompleted: count, eventsOff: true }, concurrency: KEPT_CONCURRENCY });
    // the runs take turns going first, round by round
    if (ctx.round % 2 === 0) variants.reverse();

    const values = {};
    const details = {};
    for (const { key, tag, setup, concurrency } of variants) {
      const run = await processRun(ctx, lib, { count, concurrency, setup, handler, tag });
      const kept = await checkKept(ctx, lib, run, count);
      await ctx.cleanup();
      const d = perJob(run.delta, count);
      values[key] = run.rate;
      values[`${key}CommandsPerJob`] = d.commandsPerJob;
      values[`${key}CpuPer10k`] = d.redisCpuMsPer10k;
      details[key] = {
        ...d,
        ...kept,
        // used_memory grown over the run per job: what a kept job (and its events) adds over a waiting one
        memoryGrowthPerJob: round(run.delta.memory / count, 1),
        first: variants[0].key === key,
      };
    }
    if (lib.unsupported?.storedResults) details.processKept.resultNote = lib.unsupported.storedResults;
    return { values, details, notApplicable };
  },
};

export const PROCESS_KEPT_METRICS = [
  {
    key: 'processKept',
    scenario: 'process-kept',
    label: `process, events on, completed jobs + results kept, concurrency ${KEPT_CONCURRENCY}`,
    unit: 'jobs/s',
    better: 'higher',
  },
  {
    key: 'processKept1',
    scenario: 'process-kept',
    label: `process, events on, completed jobs + results kept, concurrency ${KEPT_CONCURRENCY_ONE}`,
    unit: 'jobs/s',
    better: 'higher',
  },
  {
    key: 'processKeptNoEvents',
    scenario: 'process-kept',
    label: '… the same, kyoo with events off (eventsMaxLen: 0)',
    unit: 'jobs/s',
    better: 'higher',
  },
];

export const PROCESS_KEPT_COST_METRICS = [
  {
    key: 'processKeptCommandsPerJob',
    scenario: 'process-kept',
    label: `Redis commands per processed job, events on, kept (concurrency ${KEPT_CONCURRENCY})`,
    unit: 'commands',
    better: 'lower',
  },
  {
    key: 'processKeptCpuPer10k',
    scenario: 'process-kept',
    label: `Redis CPU per 10,000 processed jobs, events on, kept (concurrency ${KEPT_CONCURRENCY})`,
    unit: 'ms',
    better: 'lower',
  },
];
