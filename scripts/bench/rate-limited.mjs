// Rate-limited processing: a pre-filled backlog of no-op jobs (sizes.rateLimited),
// one worker in the bench process at concurrency 100, under a queue-wide limit of
// 2,000 starts per 1,000 ms, far below what either library's worker does unlimited.
// Each handler records its start (performance.now()); from those:
//
//   starts/s          the starts beyond the first `max` (the burst both limiters allow
//                     at the outset) over the time from the first start to the last:
//                     (N - max) / (t_last - t_first)
//   share             that ÷ the limit (max per interval). A limiter that keeps the
//                     bound below needs at least (N - max) / limit seconds for N starts,
//                     so this is the fastest allowed span ÷ the span taken: 1 runs at
//                     the limit, above 1 goes over it
//   over the bound    over every span of k intervals (k = 1 .. the run's length in
//                     intervals), the most starts in it against (k + 1) × max, the bound
//                     both limiters promise: how many starts the worst span had over
//                     it (0: the bound held); the details list every k
//
// Set up as each library documents (libs.mjs): kyoo `queue.setPolicy({ rateLimit:
// { max, intervalMs } })` (a token bucket, GCRA), BullMQ the Worker option `limiter:
// { max, duration }` (a fixed window); the same Redis, limit and count for both.
// bee-queue has no rate limiter: n/a.
//
// Starts are taken in the worker, not in Redis: a batch of leases that reaches the
// handlers late and together can make a window look fuller than Redis saw it, by a
// few starts.
import { NotApplicable } from './libs.mjs';
import { perJob, processRun, round } from './measure.mjs';

export const RATE_LIMIT = Object.freeze({ max: 2000, intervalMs: 1000 });
export const RATE_LIMITED_CONCURRENCY = 100;

const fmtInt = (x) => Math.round(x).toLocaleString('en-US');
const limitText = `${fmtInt(RATE_LIMIT.max)} per ${fmtInt(RATE_LIMIT.intervalMs)} ms`;

/** The most starts in any span [t, t + width) of the ascending `starts` (ms). */
function mostInSpan(starts, width) {
  let most = 0;
  let j = 0;
  for (let i = 0; i < starts.length; i++) {
    while (j < starts.length && starts[j] < starts[i] + width) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

/** What the start times of one run say about the limit (see the header). */
export function rateCheck(starts, { max, intervalMs }) {
  const t = [...starts].sort((a, b) => a - b);
  const n = t.length;
  const limitPerSec = (max * 1000) / intervalMs;
  const seconds = (t[n - 1] - t[0]) / 1000;
  const beyond = n > max && seconds > 0 ? (n - max) / seconds : undefined;
  const intervals = Math.max(1, Math.floor((t[n - 1] - t[0]) / intervalMs));
  const windows = [];
  for (let k = 1; k <= intervals; k++) {
    const most = mostInSpan(t, k * intervalMs);
    windows.push({ k, most, bound: (k + 1) * max, ratio: round(most / ((k + 1) * max), 4) });
  }
  const worst = windows.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  return {
    starts: n,
    burstMs: round(t[Math.min(max, n) - 1] - t[0], 1),
    spanMs: round(t[n - 1] - t[0], 1),
    beyondBurstPerSec: beyond === undefined ? undefined : round(beyond, 1),
    share: beyond === undefined ? undefined : round(beyond / limitPerSec, 4),
    windows,
    worst,
    overBound: Math.max(0, ...windows.map((w) => w.most - w.bound)),
    boundHeld: windows.every((w) => w.most <= w.bound),
  };
}

export const rateLimited = {
  name: 'rate-limited',
  about: `process pre-filled no-op jobs at concurrency ${RATE_LIMITED_CONCURRENCY} under a queue-wide limit of ${limitText}`,
  async run(ctx, lib) {
    if (lib.unsupported?.rateLimit) throw new NotApplicable(lib.unsupported.rateLimit);
    const count = ctx.sizes.rateLimited;
    const starts = [];
    const run = await processRun(ctx, lib, {
      count,
      concurrency: RATE_LIMITED_CONCURRENCY,
      setup: { rateLimit: RATE_LIMIT },
      handler: async () => void starts.push(performance.now()),
      tag: 'rate',
    });
    if (starts.length !== count) throw new Error(`${starts.length} starts for ${count} jobs`);
    const check = rateCheck(starts, RATE_LIMIT);
    if (check.beyondBurstPerSec === undefined) throw new Error(`${count} jobs are too few to measure a rate against ${limitText}`);
    const d = perJob(run.delta, count);
    return {
      values: {
        rateLimited: check.beyondBurstPerSec,
        rateLimitedShare: check.share,
        rateLimitedOverBound: check.overBound,
        rateLimitedCommandsPerJob: d.commandsPerJob,
      },
      details: { rateLimited: { ...d, ...check, jobs: count, limit: RATE_LIMIT, seconds: round(count / run.rate, 3) } },
    };
  },
};

export const RATE_LIMITED_METRICS = [
  {
    key: 'rateLimited',
    scenario: 'rate-limited',
    label: `rate-limited, ${limitText}, concurrency ${RATE_LIMITED_CONCURRENCY}: starts/s beyond the first ${fmtInt(RATE_LIMIT.max)}`,
    unit: 'jobs/s',
    better: 'higher',
  },
  {
    key: 'rateLimitedShare',
    scenario: 'rate-limited',
    label: `… ÷ the limit (${fmtInt((RATE_LIMIT.max * 1000) / RATE_LIMIT.intervalMs)}/s; 1 = at the limit)`,
    unit: 'share',
    better: 'higher',
  },
  {
    key: 'rateLimitedOverBound',
    scenario: 'rate-limited',
    label: '… starts over (k + 1) × max in the fullest span of k intervals (0 = the bound held)',
    unit: 'starts',
    better: 'lower',
  },
  {
    key: 'rateLimitedCommandsPerJob',
    scenario: 'rate-limited',
    label: 'Redis commands per job, rate-limited',
    unit: 'commands',
    better: 'lower',
  },
];

/** A line of the printed details for one library's last rate-limited run. */
export function rateLimitedDetail(d) {
  const windows = d.windows.map((w) => `k=${w.k} ${fmtInt(w.most)}/${fmtInt(w.bound)}`).join(', ');
  return `${fmtInt(d.jobs)} jobs at ${limitText}: the first ${fmtInt(d.limit.max)} started within ${d.burstMs} ms, ` +
    `the last ${d.spanMs} ms after the first: ${fmtInt(d.beyondBurstPerSec)} starts/s beyond the first ${fmtInt(d.limit.max)} ` +
    `(${d.share.toFixed(3)} of the limit); all done in ${d.seconds} s; ` +
    `most starts in k intervals against (k + 1) × max: ${windows}; bound ${d.boundHeld ? 'held' : 'EXCEEDED'}`;
}
