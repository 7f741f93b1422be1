import { RedriveError, type DeadLetterFilter, type Queue, type RedriveTask } from '@kyoo/client';
import { flag, positionals, positive, type OptionSpecs } from '../args.js';
import type { Command } from '../command.js';
import { confirm } from '../confirm.js';
import type { Context } from '../context.js';
import { CliError, EXIT, NotFoundError, UsageError, type ExitCode } from '../exit.js';
import { ProgressBar } from '../progress.js';
import { FILTER_OPTIONS, actionFilter, describeFilter, isEmpty, filterOf } from './filter.js';

const ACTION_OPTIONS: OptionSpecs = {
  ...FILTER_OPTIONS,
  all: { type: 'boolean', section: 'Filters', help: 'every dead job (needed when no filter is given)' },
  'dry-run': { type: 'boolean', short: 'n', help: 'show what would be done, change nothing' },
  yes: { type: 'boolean', short: 'y', help: 'do not ask for confirmation (needed when stdin is not a terminal)' },
};

/** How many ids a dry run lists. */
const SHOWN = 20;

export const dlqReplay: Command = {
  name: 'dlq replay',
  usage: 'dlq replay <queue> (filters | --all | --resume) [options]',
  summary: 'replay dead jobs (a group, a filter, all), at a limited rate, resumable',
  about: [
    'Replays the dead jobs the filters match: each goes back to the queue with its attempts reset. The jobs matched',
    'are kept in Redis as the queue\'s redrive task, oldest death first, and replayed in batches at --rate jobs a',
    'second at most, each batch taken out of the task in the same call that replays it. So a replay stopped by',
    'Ctrl-C (or a crash) is continued with --resume and replays no job twice: not one it replayed that died again,',
    'nor one that someone else replayed and that died again meanwhile (it is skipped). One task at a time per queue.',
  ].join('\n'),
  options: {
    ...ACTION_OPTIONS,
    rate: { type: 'string', value: 'N', help: 'replay at most N jobs a second, 0.01 to 100000 (default: no limit)' },
    resume: { type: 'boolean', help: 'continue the queue\'s unfinished redrive task (no filters then)' },
  },
  extra: [
    'Examples:',
    '  kyoo dlq groups emails',
    '  kyoo dlq replay emails --group 3fa9c2d1e0b4 --dry-run',
    '  kyoo dlq replay emails --group 3fa9c2d1e0b4 --rate 50 --yes',
    '  kyoo dlq replay emails --resume --yes',
  ].join('\n'),
  async run(ctx, p) {
    const [name] = positionals('dlq replay', p, ['queue']);
    const rate = positive(p, 'rate', 0.01, 100_000);
    const q = await ctx.existingQueue(name!);
    if (flag(p, 'resume')) {
      if (!isEmpty(filterOf(p)) || flag(p, 'all') || flag(p, 'dry-run')) throw new UsageError('--resume continues the task as it was made: no filters, --all or --dry-run with it', 'dlq replay');
      const task = await q.dead.redrive();
      if (!task) throw new NotFoundError(`queue ${name} has no redrive task to resume`);
      if (task.status === 'done') return report(ctx, q.name, task, false, 'already done: ');
      if (task.status === 'preparing') throw new CliError(`the redrive task ${task.id} of ${name} was stopped while it was being made; it replayed nothing: start the replay again`);
      await confirm('replay dead jobs', () => `resume replaying ${task.left} dead jobs of ${name} (task ${task.id})`, flag(p, 'yes'));
      return run(ctx, q, rate, undefined);
    }
    const filter = actionFilter(p, 'replay');
    if (flag(p, 'dry-run')) return dryRun(ctx, q, filter, 'replay');
    const existing = await q.dead.redrive();
    if (existing?.status === 'active') {
      throw new CliError(`queue ${name} has an unfinished redrive task ${existing.id} (${existing.left} of ${existing.total} left): kyoo dlq replay ${name} --resume, or kyoo dlq task ${name} --drop`);
    }
    await confirm('replay dead jobs', async () => `replay ${await q.dead.count(filter)} dead jobs of ${name} (${describeFilter(filter)})`, flag(p, 'yes'));
    try {
      await q.dead.createRedrive(filter);
    } catch (err) {
      if (err instanceof RedriveError && err.reason === 'exists') throw new CliError(`${err.message} (kyoo dlq replay ${name} --resume)`);
      throw err;
    }
    return run(ctx, q, rate, filter.ids?.length);
  },
};

/** Runs the queue's task until done or Ctrl-C; 4 when interrupted or when not everything asked for was replayed. */
async function run(ctx: Context, q: Queue, rate: number | undefined, idsAsked: number | undefined): Promise<ExitCode> {
  const bar = new ProgressBar(ctx.out);
  let task: RedriveTask;
  try {
    task = await q.dead.runRedrive({
      ...(rate === undefined ? {} : { ratePerSec: rate }),
      signal: ctx.signal,
      onProgress: (t) => bar.update(t.replayed, t.total, t.skipped),
    });
  } finally {
    bar.end();
  }
  const interrupted = task.status !== 'done';
  const code = report(ctx, q.name, task, interrupted, '');
  if (!interrupted && idsAsked !== undefined && task.total < idsAsked) {
    ctx.out.note(`${idsAsked - task.total} of the ids given are not in the dead-letter queue (or outside the filters)`);
    return EXIT.PARTIAL;
  }
  return code;
}

function report(ctx: Context, queue: string, task: RedriveTask, interrupted: boolean, lead: string): ExitCode {
  const { out } = ctx;
  if (out.json) out.data({ task, interrupted });
  else {
    const skipped = task.skipped > 0 ? `, skipped ${task.skipped} no longer dead as matched` : '';
    out.line(`${lead}replayed ${task.replayed} of ${task.total} dead jobs of ${queue}${skipped}`);
  }
  if (interrupted) {
    out.note(`interrupted: ${task.left} jobs left in the redrive task ${task.id}; continue with kyoo dlq replay ${queue} --resume`);
    return EXIT.PARTIAL;
  }
  return task.skipped > 0 ? EXIT.PARTIAL : EXIT.OK;
}

export const dlqPurge: Command = {
  name: 'dlq purge',
  usage: 'dlq purge <queue> (filters | --all) [options]',
  summary: 'delete dead jobs for good (a group, a filter, all)',
  about: [
    'Deletes the dead jobs the filters match, for good. Each is deleted only in the death it was matched in: one',
    'replayed and dead again meanwhile (perhaps of another error) is left as it is.',
  ].join('\n'),
  options: ACTION_OPTIONS,
  extra: 'Example: kyoo dlq purge emails --group 9b1d0e77a2c4 --older-than 7d --yes',
  async run(ctx, p) {
    const [name] = positionals('dlq purge', p, ['queue']);
    const filter = actionFilter(p, 'purge');
    const q = await ctx.existingQueue(name!);
    if (flag(p, 'dry-run')) return dryRun(ctx, q, filter, 'purge');
    await confirm('purge dead jobs', async () => `delete ${await q.dead.count(filter)} dead jobs of ${name} for good (${describeFilter(filter)})`, flag(p, 'yes'));
    const result = await q.dead.purge(isEmpty(filter) ? 'all' : filter);
    // matched but gone, or dead again, by the time the purge reached them (someone else was at work)
    const missed = [...result.notDead, ...result.notFound, ...result.changed];
    const matched = result.done.length + missed.length;
    const unmatched = filter.ids ? new Set(filter.ids).size - matched : 0;
    if (ctx.out.json) ctx.out.data(result);
    else ctx.out.line(`purged ${result.done.length} dead jobs of ${name}`);
    if (missed.length > 0) ctx.out.note(`${missed.length} were no longer dead as matched and were left: ${missed.slice(0, SHOWN).join(', ')}`);
    if (unmatched > 0) ctx.out.note(`${unmatched} of the ids given are not in the dead-letter queue (or outside the filters)`);
    return missed.length > 0 || unmatched > 0 ? EXIT.PARTIAL : EXIT.OK;
  },
};

async function dryRun(ctx: Context, q: Queue, filter: DeadLetterFilter, verb: 'replay' | 'purge'): Promise<ExitCode> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await q.dead.find(filter, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    ids.push(...page.jobs.map((j) => j.id));
    cursor = page.cursor;
  } while (cursor !== undefined);
  if (ctx.out.json) ctx.out.data({ dryRun: true, action: verb, queue: q.name, matched: ids.length, ids });
  else {
    ctx.out.line(`would ${verb} ${ids.length} dead jobs of ${q.name} (${describeFilter(filter)}); nothing was changed`);
    if (ids.length > 0) ctx.out.line(`  ${ids.slice(0, SHOWN).join(' ')}${ids.length > SHOWN ? ` ... and ${ids.length - SHOWN} more` : ''}`);
  }
  return EXIT.OK;
}

