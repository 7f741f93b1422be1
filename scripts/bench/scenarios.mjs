// The scenarios of the comparison. Each is `run(ctx, lib) -> { values, details }`:
// `values` are the table's numbers for that library in this round, `details`
// extra facts for the JSON report (per-command counts and the like).
//
// ctx: { server, stats, admin, sizes, round, queue(tag), cleanup(), timeoutMs }
//   queue(tag)  a fresh queue name, deleted again by cleanup()
//   cleanup()   deletes the keys of every queue handed out since the last cleanup
//
// A scenario that a library cannot take part in (it lacks the feature) throws
// NotApplicable (libs.mjs) with the reason; the table then shows n/a. A library
// that takes part but lacks one row's feature leaves that value out and returns
// `notApplicable: { metricKey: reason }` beside `values`. Each run is a fresh
// process (one.mjs), with no warm-up; the add and two-process scenarios then go
// on in the same processes for their warm lines.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { BULK_CHUNK, chunks } from './libs.mjs';
import { ServerStats } from './redis-stats.mjs';
import { noop, payloads, perJob, prefill, processRun, round, withTimeout } from './measure.mjs';
import { DELAYED_METRICS, delayed } from './delayed.mjs';
import { PRIORITY_METRICS, priority } from './priority.mjs';
import { SCHEDULE_METRICS, schedule } from './schedule.mjs';
import { PROCESS_KEPT_COST_METRICS, PROCESS_KEPT_METRICS, processKept } from './process-kept.mjs';
import { GROUPED_METRICS, grouped } from './grouped.mjs';
import { RATE_LIMITED_METRICS, rateLimited } from './rate-limited.mjs';
import { BACKLOG_METRICS, backlog, backlogSmall } from './backlog.mjs';

/** Concurrent add loops in the one-at-a-time add scenario. */
const ADD_IN_FLIGHT = 100;
/** Concurrency levels of the single-process processing scenario. */
export const PROCESS_CONCURRENCY = [1, 10, 100];
/** The processing run whose Redis commands and CPU are reported. */
const MEASURED_CONCURRENCY = 100;
/** Worker processes and concurrency of each in the two-process scenario. */
const CHILD_PROCESSES = 2;
const CHILD_CONCURRENCY = 50;
/** Idle workers in the idle-cost scenario. */
const IDLE_WORKERS = 10;
/** Concurrency levels of the large-backlog processing scenario (200,000 jobs). */
export const PROCESS_LARGE_CONCURRENCY = [10, 100];
/** Jobs picked up before latency samples are taken. */
const LATENCY_WARMUP = 10;

/** The gap before each pickup of the latency line: the worker is back to waiting, and adds do not beat in step with it. */
export const pickupGapMs = () => 2 + Math.floor(Math.random() * 4);

export const SCENARIOS = [
  {
    name: 'add',
    about: `add one job at a time, ${ADD_IN_FLIGHT} adds in flight, in a fresh process; then as many again in the same process (warm)`,
    async run(ctx, lib) {
      const count = ctx.sizes.add;
      const producer = lib.producer(ctx.server, ctx.queue('add'));
      try {
        await producer.ready();
        let next = 0;
        // the same loops twice: the first `count` adds of the process (its code not yet
        // compiled by the JIT), then `count` more, as a long-lived producer adds them
        const part = async (end) => {
          const loop = async () => {
            while (next < end) await producer.add({ n: next++ });
          };
          const before = await ctx.stats.snapshot();
          const start = performance.now();
          await withTimeout(Promise.all(Array.from({ length: ADD_IN_FLIGHT }, loop)), ctx.timeoutMs, `adding ${count} jobs`);
          const seconds = (performance.now() - start) / 1000;
          const after = await ctx.stats.snapshot();
          return { rate: count / seconds, cost: perJob(ServerStats.delta(before, after), count) };
        };
        const cold = await part(count);
        const warm = await part(2 * count);
        return { values: { add: cold.rate, addWarm: warm.rate }, details: { add: cold.cost, addWarm: warm.cost } };
      } finally {
        await producer.close();
      }
    },
  },
  {
    name: 'bulk',
    about: `add in bulk, chunks of ${BULK_CHUNK.toLocaleString('en-US')}, one chunk at a time`,
    async run(ctx, lib) {
      const count = ctx.sizes.bulk;
      const producer = lib.producer(ctx.server, ctx.queue('bulk'));
      try {
        await producer.ready();
        const parts = chunks(payloads(count), BULK_CHUNK);
        const before = await ctx.stats.snapshot();
        const start = performance.now();
        await withTimeout((async () => {
          for (const part of parts) await producer.addBulk(part);
        })(), ctx.timeoutMs, `adding ${count} jobs in bulk`);
        const seconds = (performance.now() - start) / 1000;
        const after = await ctx.stats.snapshot();
        return { values: { bulk: count / seconds }, details: { bulk: perJob(ServerStats.delta(before, after), count) } };
      } finally {
        await producer.close();
      }
    },
  },
  {
    name: 'process',
    about: `process pre-filled no-op jobs in one process at concurrency ${PROCESS_CONCURRENCY.join(', ')}`,
    async run(ctx, lib) {
      const values = {};
      const details = {};
      for (const concurrency of PROCESS_CONCURRENCY) {
        const { rate, delta, nodeCpuUsPerJob } = await processRun(ctx, lib, { count: ctx.sizes.process, concurrency });
        await ctx.cleanup();
        values[`process${concurrency}`] = rate;
        details[`process${concurrency}`] = { ...perJob(delta, ctx.sizes.process), nodeCpuUsPerJob };
        if (concurrency === MEASURED_CONCURRENCY) {
          const d = details[`process${concurrency}`];
          values.nodeCpuPerJob = nodeCpuUsPerJob;
          values.commandsPerJob = d.commandsPerJob;
          values.scriptCallsPerJob = d.scriptCallsPerJob;
          values.cpuPer10k = d.redisCpuMsPer10k;
        }
      }
      return { values, details };
    },
  },
  {
    name: 'process-large',
    about: `process ${'200,000'} pre-filled no-op jobs in one process at concurrency ${PROCESS_LARGE_CONCURRENCY.join(', ')}`,
    async run(ctx, lib) {
      const values = {};
      const details = {};
      for (const concurrency of PROCESS_LARGE_CONCURRENCY) {
        const { rate, delta } = await processRun(ctx, lib, { count: ctx.sizes.processLarge, concurrency, tag: `large-c${concurrency}` });
        await ctx.cleanup();
        values[`processLarge${concurrency}`] = rate;
        details[`processLarge${concurrency}`] = perJob(delta, ctx.sizes.processLarge);
      }
      return { values, details };
    },
  },
  {
    name: 'cold-start',
    about: 'time from creating a worker (in a process that has made no connection yet) to its first job completed, one job waiting',
    async run(ctx, lib) {
      const name = ctx.queue('cold');
      await prefill(ctx, lib, name, 1);
      let done;
      const completed = new Promise((resolve) => (done = resolve));
      const start = performance.now();
      const worker = lib.worker(ctx.server, name, { concurrency: 1, handler: noop, onCompleted: () => done(performance.now()) });
      try {
        worker.start();
        const end = await withTimeout(completed, ctx.timeoutMs, 'the first job');
        return { values: { coldStart: end - start }, details: {} };
      } finally {
        await worker.close();
      }
    },
  },
  processKept,
  grouped,
  {
    name: 'two-process',
    about: `${CHILD_PROCESSES} worker processes, concurrency ${CHILD_CONCURRENCY} each, pre-filled no-op jobs: the first half in fresh processes, then the second (warm)`,
    async run(ctx, lib) {
      const count = ctx.sizes.twoProcess;
      const name = ctx.queue('procs');
      // twice the count: the first `count` completions are the processes' first jobs (their
      // code not yet compiled by the JIT), the next `count` those of long-lived workers
      await prefill(ctx, lib, name, 2 * count);
      const script = fileURLToPath(new URL('./child-worker.mjs', import.meta.url));
      const children = [];
      const exited = [];
      let stopping;
      // once only (the finally block calls it again): a second 'stop' could reach a child
      // that is exiting and fail with EPIPE
      const stopAll = () => (stopping ??= stopChildren());
      const stopChildren = async () => {
        for (const child of children) if (child.connected) child.send({ type: 'stop' }, () => undefined);
        await withTimeout(Promise.all(exited), 20_000, 'stopping worker processes').catch((err) => {
          for (const child of children) child.kill('SIGKILL');
          throw err;
        });
      };
      try {
        const progress = new Array(CHILD_PROCESSES).fill(null).map(() => ({ done: 0, at: 0 }));
        let finished;
        let failed;
        let halfDone;
        const allDone = new Promise((resolve, reject) => { finished = resolve; failed = reject; });
        const firstHalf = new Promise((resolve) => (halfDone = resolve));
        const readies = [];
        for (let i = 0; i < CHILD_PROCESSES; i++) {
          const child = fork(script, [lib.name, ctx.server.host, String(ctx.server.port), name, String(CHILD_CONCURRENCY)], {
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          children.push(child);
          // an IPC write to a child that has just exited fails; its exit is what counts
          child.on('error', (err) => process.stderr.write(`worker process ${i}: ${err.message}\n`));
          exited.push(new Promise((resolve) => child.once('exit', resolve)));
          child.once('exit', (code, signal) => {
            if (code !== 0) failed(new Error(`worker process ${i} exited with ${code ?? signal}`));
          });
          child.on('message', (msg) => {
            if (msg.type === 'closed') progress[i] = { ...progress[i], done: msg.done };
          });
          readies.push(new Promise((resolve) => {
            child.on('message', (msg) => {
              if (msg.type === 'ready') resolve();
              else if (msg.type === 'progress') {
                progress[i] = msg;
                const total = progress.reduce((sum, p) => sum + p.done, 0);
                if (total >= count) halfDone(Math.max(...progress.map((p) => p.at)));
                if (total >= 2 * count) finished(Math.max(...progress.map((p) => p.at)));
              }
            });
          }));
        }
        await withTimeout(Promise.race([Promise.all(readies), allDone]), 30_000, 'starting worker processes');
        const before = await ctx.stats.snapshot();
        const start = performance.timeOrigin + performance.now();
        for (const child of children) child.send({ type: 'go' });
        const half = await withTimeout(Promise.race([firstHalf, allDone]), ctx.timeoutMs, `processing ${count} jobs in ${CHILD_PROCESSES} processes`);
        const end = await withTimeout(allDone, ctx.timeoutMs, `processing ${2 * count} jobs in ${CHILD_PROCESSES} processes`);
        const after = await ctx.stats.snapshot();
        await stopAll();
        const total = progress.reduce((sum, p) => sum + p.done, 0);
        if (total !== 2 * count) throw new Error(`${total} completions for ${2 * count} jobs`);
        return {
          // the first half ends at the latest completion reported when the count was reached
          values: { twoProcesses: count / ((half - start) / 1000), twoProcessesWarm: count / ((end - half) / 1000) },
          // Redis's commands and CPU over both halves
          details: { twoProcesses: { ...perJob(ServerStats.delta(before, after), 2 * count), perProcess: progress.map((p) => p.done) } },
        };
      } finally {
        await stopAll();
      }
    },
  },
  {
    name: 'latency',
    about: 'pickup latency of an idle worker: add-call start to handler start, one job at a time',
    async run(ctx, lib) {
      const count = ctx.sizes.latency;
      const name = ctx.queue('latency');
      const started = new Map(); // n -> resolve(handler start time)
      const producer = lib.producer(ctx.server, name);
      const worker = lib.worker(ctx.server, name, {
        concurrency: 1,
        handler: async (data) => {
          const at = performance.now();
          started.get(data.n)?.(at);
        },
      });
      try {
        await Promise.all([producer.ready(), worker.ready()]);
        worker.start();
        const samples = [];
        await withTimeout((async () => {
          for (let n = 0; n < LATENCY_WARMUP + count; n++) {
            await sleep(pickupGapMs());
            const handlerStarted = new Promise((resolve) => started.set(n, resolve));
            const t0 = performance.now();
            await producer.add({ n });
            const t1 = await handlerStarted;
            started.delete(n);
            if (n >= LATENCY_WARMUP) samples.push(t1 - t0);
          }
        })(), ctx.timeoutMs, `${count} pickups`);
        samples.sort((a, b) => a - b);
        const pct = (p) => samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)];
        return {
          values: { latencyP50: pct(50), latencyP99: pct(99) },
          details: { latency: { samples: samples.length, min: samples[0], p90: pct(90), max: samples.at(-1) } },
        };
      } finally {
        await worker.close();
        await producer.close();
      }
    },
  },
  {
    name: 'memory',
    about: 'Redis memory per waiting job ({ n: i } payloads)',
    async run(ctx, lib) {
      const count = ctx.sizes.memory;
      const producer = lib.producer(ctx.server, ctx.queue('memory'));
      try {
        await producer.ready();
        await ctx.admin.lazyFreeDone();
        const before = await ctx.stats.snapshot();
        for (const chunk of chunks(payloads(count), BULK_CHUNK)) await producer.addBulk(chunk);
        const after = await ctx.stats.snapshot();
        const delta = ServerStats.delta(before, after);
        return { values: { memoryPerJob: delta.memory / count }, details: { memory: { jobs: count, bytes: delta.memory } } };
      } finally {
        await producer.close();
      }
    },
  },
  {
    name: 'idle',
    about: `Redis commands per second while ${IDLE_WORKERS} idle workers wait`,
    async run(ctx, lib) {
      const name = ctx.queue('idle');
      const workers = Array.from({ length: IDLE_WORKERS }, () => lib.worker(ctx.server, name, { concurrency: 1, handler: noop }));
      try {
        await Promise.all(workers.map((w) => w.ready()));
        for (const w of workers) w.start();
        await sleep(1000); // let start-up calls pass: this measures the steady idle state
        const before = await ctx.stats.snapshot();
        await sleep(ctx.sizes.idleSeconds * 1000);
        const after = await ctx.stats.snapshot();
        const delta = ServerStats.delta(before, after);
        return {
          values: { idleCommandsPerSec: delta.commands / delta.seconds },
          details: { idle: { seconds: round(delta.seconds, 3), byCommand: delta.byCommand } },
        };
      } finally {
        await Promise.all(workers.map((w) => w.close()));
      }
    },
  },
  backlog,
  backlogSmall,
  delayed,
  priority,
  rateLimited,
  schedule,
];

/** The rows of the table, in order: which scenario yields them, unit, and which way is better. */
export const METRICS = [
  { key: 'add', scenario: 'add', label: `add, one at a time, ${ADD_IN_FLIGHT} in flight`, unit: 'jobs/s', better: 'higher' },
  { key: 'addWarm', scenario: 'add', label: '… the next as many adds in the same process (warm)', unit: 'jobs/s', better: 'higher' },
  { key: 'bulk', scenario: 'bulk', label: `add in bulk, chunks of ${BULK_CHUNK.toLocaleString('en-US')}`, unit: 'jobs/s', better: 'higher' },
  ...PROCESS_CONCURRENCY.map((c) => ({ key: `process${c}`, scenario: 'process', label: `process, 1 process, concurrency ${c}`, unit: 'jobs/s', better: 'higher' })),
  ...PROCESS_LARGE_CONCURRENCY.map((c) => ({ key: `processLarge${c}`, scenario: 'process-large', label: `process 200,000 jobs, concurrency ${c}`, unit: 'jobs/s', better: 'higher' })),
  ...PROCESS_KEPT_METRICS,
  ...GROUPED_METRICS,
  { key: 'twoProcesses', scenario: 'two-process', label: `process, ${CHILD_PROCESSES} processes × concurrency ${CHILD_CONCURRENCY}`, unit: 'jobs/s', better: 'higher' },
  { key: 'twoProcessesWarm', scenario: 'two-process', label: '… the next as many jobs in the same processes (warm)', unit: 'jobs/s', better: 'higher' },
  ...PRIORITY_METRICS,
  ...RATE_LIMITED_METRICS,
  { key: 'latencyP50', scenario: 'latency', label: 'pickup latency p50', unit: 'ms', better: 'lower' },
  { key: 'latencyP99', scenario: 'latency', label: 'pickup latency p99', unit: 'ms', better: 'lower' },
  { key: 'coldStart', scenario: 'cold-start', label: 'cold start: new worker to first job done', unit: 'ms', better: 'lower' },
  ...DELAYED_METRICS,
  ...SCHEDULE_METRICS,
  { key: 'memoryPerJob', scenario: 'memory', label: 'Redis memory per waiting job', unit: 'bytes', better: 'lower' },
  ...BACKLOG_METRICS,
  { key: 'commandsPerJob', scenario: 'process', label: `Redis commands per processed job (concurrency ${MEASURED_CONCURRENCY})`, unit: 'commands', better: 'lower' },
  { key: 'scriptCallsPerJob', scenario: 'process', label: '… of which script calls', unit: 'calls', better: 'lower' },
  { key: 'nodeCpuPerJob', scenario: 'process', label: `Node CPU per processed job, the worker's process (concurrency ${MEASURED_CONCURRENCY})`, unit: 'µs', better: 'lower' },
  { key: 'cpuPer10k', scenario: 'process', label: `Redis CPU per 10,000 processed jobs (concurrency ${MEASURED_CONCURRENCY})`, unit: 'ms', better: 'lower' },
  ...PROCESS_KEPT_COST_METRICS,
  { key: 'idleCommandsPerSec', scenario: 'idle', label: `idle cost, ${IDLE_WORKERS} idle workers`, unit: 'commands/s', better: 'lower' },
];
