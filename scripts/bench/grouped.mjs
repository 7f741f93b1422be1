// Processing with ordered groups: the `process` scenario's backlog (sizes.process
// pre-filled no-op jobs, one worker in the bench process at concurrency 100, time
// from the worker's start to the last completion), where job n goes to group
// n mod 1,000 (round-robin), at the default group concurrency of 1: each group's
// jobs run one at a time, in the order added, and at most 100 groups run at once.
//
// The same backlog also runs without groups, in the same round, and the two runs
// take turns going first from one round to the next (as process-kept does), so
// the grouped/ungrouped ratio compares runs made minutes apart at most. Both runs
// use the same handler, which checks that each group's jobs start in the order
// added; the grouped run fails if one does not.
//
// kyoo only. BullMQ has groups only in BullMQ Pro (its paid tier) and bee-queue has
// none: both show n/a, with the reason (libs.mjs `unsupported.groups`).
import { NotApplicable } from './libs.mjs';
import { perJob, processRun } from './measure.mjs';

/** Groups the backlog is spread over, round-robin. */
export const GROUPS = 1000;
export const GROUPED_CONCURRENCY = 100;

const groupOf = (n) => n % GROUPS;

/** A no-op handler that counts starts out of their group's order (job n of a group must start after every earlier one). */
function orderedHandler() {
  const last = new Array(GROUPS).fill(-1);
  const state = { outOfOrder: 0 };
  const handler = async (data) => {
    const g = groupOf(data.n);
    if (data.n < last[g]) state.outOfOrder++;
    else last[g] = data.n;
  };
  return { handler, state };
}


export const grouped = {
  name: 'grouped',
  about: `process pre-filled no-op jobs over ${GROUPS.toLocaleString('en-US')} ordered groups (concurrency 1 each), ` +
    `concurrency ${GROUPED_CONCURRENCY}, beside the same backlog without groups`,
  async run(ctx, lib) {
    if (lib.unsupported?.groups) throw new NotApplicable(lib.unsupported.groups);
    const count = ctx.sizes.process;
    const groups = Array.from({ length: count }, (_, n) => `g${groupOf(n)}`);
    const variants = [{ key: 'ungrouped100', tag: 'ungrouped' }, { key: 'grouped100', tag: 'grouped', groups }];
    // the two runs take turns going first, round by round
    if (ctx.round % 2 === 0) variants.reverse();

    const values = {};
    const details = {};
    for (const { key, tag, groups: groupKeys } of variants) {
      const { handler, state } = orderedHandler();
      const run = await processRun(ctx, lib, { count, concurrency: GROUPED_CONCURRENCY, groups: groupKeys, handler, tag });
      await ctx.cleanup();
      if (groupKeys && state.outOfOrder > 0) throw new Error(`${state.outOfOrder} jobs started before an earlier job of their group`);
      const d = perJob(run.delta, count);
      values[key] = run.rate;
      values[`${key}CommandsPerJob`] = d.commandsPerJob;
      values[`${key}CpuPer10k`] = d.redisCpuMsPer10k;
      details[key] = {
        ...d,
        groups: groupKeys ? GROUPS : 0,
        jobsPerGroup: groupKeys ? count / GROUPS : undefined,
        outOfGroupOrder: state.outOfOrder,
        firstOfTwo: variants[0].key === key,
      };
    }
    values.groupedRatio = values.grouped100 / values.ungrouped100;
    return { values, details };
  },
};

export const GROUPED_METRICS = [
  {
    key: 'ungrouped100',
    scenario: 'grouped',
    label: `process, concurrency ${GROUPED_CONCURRENCY}, no groups (beside the grouped line)`,
    unit: 'jobs/s',
    better: 'higher',
  },
  {
    key: 'grouped100',
    scenario: 'grouped',
    label: `process, ${GROUPS.toLocaleString('en-US')} ordered groups round-robin (1 at a time each), concurrency ${GROUPED_CONCURRENCY}`,
    unit: 'jobs/s',
    better: 'higher',
  },
  {
    key: 'groupedRatio',
    scenario: 'grouped',
    label: '… grouped ÷ no groups, same round (target ≥ 0.50)',
    unit: 'ratio',
    better: 'higher',
  },
];

/**
 * What groups cost kyoo per job, from the medians (`med(key)`: kyoo's median or
 * undefined): lines to print below the table, or undefined when the scenario did not run.
 */
export function groupedCost(med, rounds) {
  const [on, off] = [med('grouped100'), med('ungrouped100')];
  if (on === undefined || off === undefined) return undefined;
  const [cpuOn, cpuOff] = [med('grouped100CpuPer10k'), med('ungrouped100CpuPer10k')];
  const [cmdOn, cmdOff] = [med('grouped100CommandsPerJob'), med('ungrouped100CommandsPerJob')];
  const signed = (x, digits) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
  const rate = (x) => Math.round(x).toLocaleString('en-US');
  return `What ${GROUPS.toLocaleString('en-US')} ordered groups cost kyoo per job (grouped, concurrency ${GROUPED_CONCURRENCY}; ` +
    `medians of ${rounds} round(s), grouped against the same backlog without groups):\n` +
    `  throughput          ${rate(on)} against ${rate(off)} jobs/s: ${(on / off).toFixed(2)}× (median of the rounds' ratios ${med('groupedRatio').toFixed(2)}×; target ≥ 0.50×)\n` +
    `  time per job        ${signed(1e6 / on - 1e6 / off, 2)} µs\n` +
    `  Redis CPU per job   ${signed((cpuOn - cpuOff) / 10, 2)} µs (${cpuOn.toFixed(0)} against ${cpuOff.toFixed(0)} ms per 10,000 jobs)\n` +
    `  Redis commands/job  ${signed(cmdOn - cmdOff, 3)} (${cmdOn.toFixed(3)} against ${cmdOff.toFixed(3)})\n`;
}
