// Prioritized jobs: throughput of a pre-filled backlog where every job has a
// priority (bench terms: 1..10, 10 most urgent; libs.mjs maps it per library),
// measured like the `process` scenario. First, as a check that each library
// was set up right, a small backlog runs at concurrency 1 and the order in
// which jobs start is compared with their priorities (reported in details only).
import { NotApplicable, PRIORITY_LEVELS } from './libs.mjs';
import { perJob, processRun, round, seededInts } from './measure.mjs';

const PRIORITY_CONCURRENCY = 100;
const ORDER_CONCURRENCY = 1;
const SEED = 0x5eed_0001;
const ORDER_SEED = 0x5eed_0002;

/**
 * How well `startedNs` (job numbers in start order) follows `priorities`, given
 * that every job was waiting when the worker started:
 *   inOrder             the share of starts that took a job of the most urgent priority still waiting
 *   fifoWithinPriority  the share of starts that took the earliest-added job of its own priority
 */
export function orderCheck(startedNs, priorities) {
  const waiting = Array.from({ length: PRIORITY_LEVELS + 1 }, () => []);
  priorities.forEach((p, n) => waiting[p].push(n)); // ascending n within each priority
  let inOrder = 0;
  let fifo = 0;
  for (const n of startedNs) {
    const p = priorities[n];
    let top = PRIORITY_LEVELS;
    while (top > 0 && waiting[top].length === 0) top--;
    if (p === top) inOrder++;
    const i = waiting[p].indexOf(n);
    if (i === 0) fifo++;
    if (i >= 0) waiting[p].splice(i, 1);
  }
  return { inOrder: round(inOrder / startedNs.length, 4), fifoWithinPriority: round(fifo / startedNs.length, 4) };
}

export const priority = {
  name: 'priority',
  about: `process pre-filled prioritized no-op jobs (priorities 1-${PRIORITY_LEVELS}) in one process at concurrency ${PRIORITY_CONCURRENCY}`,
  async run(ctx, lib) {
    if (lib.unsupported?.priority) throw new NotApplicable(lib.unsupported.priority);

    // The order check: also the first run through the library's prioritized path.
    const orderCount = ctx.sizes.priorityOrder;
    const orderPriorities = seededInts(orderCount, 1, PRIORITY_LEVELS, ORDER_SEED);
    const startedNs = [];
    await processRun(ctx, lib, {
      count: orderCount,
      concurrency: ORDER_CONCURRENCY,
      priorities: orderPriorities,
      handler: async (data) => void startedNs.push(data.n),
      tag: 'prio-order',
    });
    await ctx.cleanup();
    const order = orderCheck(startedNs, orderPriorities);

    const count = ctx.sizes.priority;
    const priorities = seededInts(count, 1, PRIORITY_LEVELS, SEED);
    const { rate, delta } = await processRun(ctx, lib, { count, concurrency: PRIORITY_CONCURRENCY, priorities, tag: 'prio' });
    return {
      values: { priority100: rate },
      details: {
        priority100: perJob(delta, count),
        priorityOrder: { jobs: orderCount, concurrency: ORDER_CONCURRENCY, starts: startedNs.length, ...order },
      },
    };
  },
};

export const PRIORITY_METRICS = [
  {
    key: 'priority100',
    scenario: 'priority',
    label: `process, prioritized (1-${PRIORITY_LEVELS}), concurrency ${PRIORITY_CONCURRENCY}`,
    unit: 'jobs/s',
    better: 'higher',
  },
];
