// Schedules: occurrence lateness of a per-second cron with free workers, and what
// workers cost Redis between the occurrences of a per-minute cron.
//
// Lateness is the handler's `Date.now()` minus the occurrence time the job carries
// (kyoo: job.schedule.occurrence; BullMQ: the job scheduler's opts.prevMillis). Both
// are on this machine's clock (Redis runs here too). It is measured to the handler's
// start, so it includes the pickup after the firing.
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile, round, withTimeout } from './measure.mjs';
import { ServerStats } from './redis-stats.mjs';

/** Workers and their concurrency in the lateness run. */
const WORKERS = 2;
const CONCURRENCY = 5;
/** Occurrences run before the measured ones. */
const WARMUP = 2;
/** Idle workers in the idle-cost run (as in the idle scenario). */
const IDLE_WORKERS = 10;

/** Records every start of an occurrence's job; `count(n)` resolves once n distinct occurrences started. */
function tracker() {
  const starts = new Map(); // occurrence -> [start ms]
  let want = Infinity;
  let reached;
  return {
    handler: async (_data, scheduledAt) => {
      if (scheduledAt === undefined) return;
      const list = starts.get(scheduledAt) ?? [];
      list.push(Date.now());
      starts.set(scheduledAt, list);
      if (starts.size >= want) reached?.();
    },
    count: (n) => {
      want = n;
      return starts.size >= n ? Promise.resolve() : new Promise((r) => (reached = r));
    },
    starts,
  };
}

export const schedule = {
  name: 'schedule',
  about: `per-second cron: lateness of each occurrence's start with ${WORKERS} free workers; per-minute cron: Redis commands/s between occurrences with ${IDLE_WORKERS} idle workers`,
  async run(ctx, lib) {
    const lateness = await latenessRun(ctx, lib);
    const idle = await idleRun(ctx, lib);
    return {
      values: { scheduleP50: lateness.p50, scheduleP99: lateness.p99, scheduleIdleCommandsPerSec: idle.perSec },
      details: { schedule: { ...lateness.details, idle: idle.details } },
    };
  },
};

async function latenessRun(ctx, lib) {
  const count = ctx.sizes.scheduleOccurrences;
  const name = ctx.queue('schedule');
  const t = tracker();
  const producer = lib.producer(ctx.server, name);
  const workers = Array.from({ length: WORKERS }, () => lib.worker(ctx.server, name, { concurrency: CONCURRENCY, handler: t.handler }));
  try {
    await Promise.all([producer.ready(), ...workers.map((w) => w.ready())]);
    for (const w of workers) w.start();
    await producer.schedule('tick', { cron: '* * * * * *' });
    await withTimeout(t.count(WARMUP + count), ctx.timeoutMs + count * 1000, `${WARMUP + count} occurrences`);
    const occurrences = [...t.starts.keys()].sort((a, b) => a - b).slice(WARMUP, WARMUP + count);
    const late = occurrences.map((o) => t.starts.get(o)[0] - o).sort((a, b) => a - b);
    const gaps = occurrences.slice(1).filter((o, i) => o - occurrences[i] !== 1000).length;
    return {
      p50: percentile(late, 50),
      p99: percentile(late, 99),
      details: {
        occurrences: count, min: late[0], max: late.at(-1),
        // every occurrence must start once, one second after the one before
        duplicateStarts: [...t.starts.values()].filter((l) => l.length > 1).length,
        gaps,
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await producer.close();
  }
}

async function idleRun(ctx, lib) {
  const seconds = ctx.sizes.idleSeconds;
  if (seconds > 50) throw new Error('--idle-seconds over 50 does not fit between two occurrences of a per-minute cron');
  const name = ctx.queue('schedule-idle');
  const producer = lib.producer(ctx.server, name);
  const workers = Array.from({ length: IDLE_WORKERS }, () => lib.worker(ctx.server, name, { concurrency: 1, handler: async () => {} }));
  try {
    await Promise.all([producer.ready(), ...workers.map((w) => w.ready())]);
    for (const w of workers) w.start();
    await producer.schedule('minutely', { cron: '* * * * *' });
    await sleep(1000); // let start-up calls pass, as in the idle scenario
    // the window opens 2 s after a minute's occurrence (its firing and job are done by then)
    // and closes before the next one
    const intoMinute = Date.now() % 60_000;
    if (intoMinute < 2000) await sleep(2000 - intoMinute);
    else if (intoMinute + seconds * 1000 > 59_000) await sleep(62_000 - intoMinute);
    const before = await ctx.stats.snapshot();
    await sleep(seconds * 1000);
    const after = await ctx.stats.snapshot();
    const delta = ServerStats.delta(before, after);
    return { perSec: delta.commands / delta.seconds, details: { seconds: round(delta.seconds, 3), byCommand: delta.byCommand } };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await producer.close();
  }
}

export const SCHEDULE_METRICS = [
  { key: 'scheduleP50', scenario: 'schedule', label: 'per-second cron, occurrence lateness p50', unit: 'ms', better: 'lower' },
  { key: 'scheduleP99', scenario: 'schedule', label: 'per-second cron, occurrence lateness p99', unit: 'ms', better: 'lower' },
  { key: 'scheduleIdleCommandsPerSec', scenario: 'schedule', label: `idle cost between per-minute occurrences, ${IDLE_WORKERS} workers`, unit: 'commands/s', better: 'lower' },
];
