import { errorFingerprint, type JobInfo } from '@kyoo/client';
import { flag, int, positionals, str } from '../args.js';
import type { Command } from '../command.js';
import type { Context } from '../context.js';
import { EXIT, NotFoundError } from '../exit.js';
import { age, cut, toJson, when } from '../output.js';
import { FILTER_OPTIONS, filterOf } from './filter.js';

export const dlqList: Command = {
  name: 'dlq list',
  usage: 'dlq list <queue> [filters] [options]',
  summary: 'list dead jobs, oldest death first, filtered',
  about: 'Lists the dead jobs of a queue that the filters match (all of them without filters), oldest death first, a page at a time.',
  options: {
    ...FILTER_OPTIONS,
    limit: { type: 'string', value: 'N', help: 'jobs per page, 1 to 1000 (default 20)' },
    cursor: { type: 'string', value: 'CURSOR', help: 'start after the previous page (its cursor is printed at its end)' },
  },
  extra: 'Example: kyoo dlq list emails --error-name SmtpError --older-than 1h --limit 50',
  async run(ctx, p) {
    const [name] = positionals('dlq list', p, ['queue']);
    const q = await ctx.existingQueue(name!);
    const cursor = str(p, 'cursor');
    const page = await q.dead.find(filterOf(p), { limit: int(p, 'limit', 20, 1, 1000), ...(cursor === undefined ? {} : { cursor }) });
    const { out } = ctx;
    if (out.json) {
      out.data(page);
      return EXIT.OK;
    }
    if (page.jobs.length === 0) {
      out.note(cursor === undefined ? `no dead jobs of ${name} match` : 'no more dead jobs match');
      return EXIT.OK;
    }
    const now = Date.now();
    const width = Math.max(40, (process.stdout.columns ?? 120) - 60);
    out.table(['ID', 'DIED', 'ATTEMPTS', 'GROUP', 'LAST ERROR'], page.jobs.map((j) => [
      j.id,
      { text: `${age(now - (j.stateSince ?? now))} ago`, right: true },
      { text: `${j.attemptsMade}/${j.attempts}`, right: true },
      { text: j.fingerprint, style: 'dim' },
      { text: cut(j.lastError ? `${j.lastError.name}: ${j.lastError.message}` : '(no error recorded)', width), style: 'red' },
    ]));
    if (page.cursor) out.note(`more: kyoo dlq list ${name} ... --cursor ${page.cursor}`);
    return EXIT.OK;
  },
};

export const dlqShow: Command = {
  name: 'dlq show',
  usage: 'dlq show <queue> <id> [options]',
  summary: 'one dead job: data, attempts, error history with stacks',
  about: 'Shows one dead job: its data, attempts, and its whole error history with stacks and its fingerprint.',
  options: {},
  async run(ctx, p) {
    const [name, id] = positionals('dlq show', p, ['queue', 'id']);
    const q = await ctx.existingQueue(name!);
    const job = await q.dead.get(id!);
    if (!job) {
      const other = await q.getJob(id!);
      throw new NotFoundError(other ? `job ${id} of ${name} is not dead (it is ${other.state})` : `no job ${id} in ${name}`);
    }
    const fingerprint = errorFingerprint(job.lastError).fingerprint;
    if (ctx.out.json) ctx.out.data({ ...job, fingerprint });
    else showJob(ctx, job, fingerprint);
    return EXIT.OK;
  },
};

/** A job for people: its fields, then its error history (newest last). */
export function showJob(ctx: Context, job: JobInfo, fingerprint?: string): void {
  const { out } = ctx;
  const rows: [string, string][] = [
    ['id', job.id],
    ['state', out.paint(job.state === 'dead' ? 'red' : job.state === 'completed' ? 'green' : 'cyan', job.state)],
    ['attempts', `${job.attemptsMade} of ${job.attempts}`],
    ['added', when(job.createdAt)],
  ];
  if (job.stateSince !== undefined) rows.push([job.state === 'dead' ? 'died' : job.state === 'leased' ? 'lease ends' : job.state === 'delayed' ? 'runs at' : 'since', when(job.stateSince)]);
  if (job.priority !== 0) rows.push(['priority', String(job.priority)]);
  if (job.schedule) rows.push(['schedule', `${job.schedule.id} (occurrence ${when(job.schedule.occurrence)})`]);
  if (fingerprint) rows.push(['group', fingerprint]);
  rows.push(['data', job.decodeError ? out.paint('red', `cannot be decoded: ${job.decodeError}`) : toJson(job.data) ?? 'undefined']);
  if (job.result !== undefined) rows.push(['result', toJson(job.result)]);
  if (job.progress) rows.push(['progress', `${toJson(job.progress.value)} (attempt ${job.progress.attempt}, ${when(job.progress.at)})`]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  for (const [k, v] of rows) out.line(`${out.paint('bold', k.padEnd(width))}${v}`);
  if (job.errors.length === 0) return;
  out.line();
  out.line(out.paint('bold', `errors (${job.errors.length}, oldest first)`));
  for (const e of job.errors) {
    out.line(`  attempt ${e.attempt} at ${when(e.at)}: ${out.paint('red', `${e.name}: ${e.message}`)}`);
    const frames = (e.stack ?? '').split('\n').filter((l) => /^\s+at\s/.test(l));
    for (const f of frames) out.line(out.paint('dim', `      ${f.trim()}`));
  }
}

export const dlqGroups: Command = {
  name: 'dlq groups',
  usage: 'dlq groups <queue> [filters] [options]',
  summary: 'dead jobs grouped by error fingerprint, with counts',
  about: [
    'Groups the dead jobs of a queue (those the filters match) by the fingerprint of their last error: its name, its',
    'message with numbers, hex ids, UUIDs and quoted strings replaced, and the top frame of its stack. Largest group',
    'first, with its count and its oldest and newest death. Replay or purge one group with --group FINGERPRINT.',
  ].join('\n'),
  options: { ...FILTER_OPTIONS },
  async run(ctx, p) {
    const [name] = positionals('dlq groups', p, ['queue']);
    const q = await ctx.existingQueue(name!);
    const groups = await q.dead.groups(filterOf(p));
    const { out } = ctx;
    if (out.json) {
      out.data(groups);
      return EXIT.OK;
    }
    if (groups.length === 0) {
      out.note(`no dead jobs of ${name} match`);
      return EXIT.OK;
    }
    const now = Date.now();
    const width = Math.max(40, (process.stdout.columns ?? 120) - 70);
    out.table(['GROUP', 'COUNT', 'OLDEST', 'NEWEST', 'ERROR', 'AT'], groups.map((g) => [
      g.fingerprint,
      { text: String(g.count), right: true },
      { text: `${age(now - g.oldest)} ago`, right: true },
      { text: `${age(now - g.newest)} ago`, right: true },
      { text: cut(`${g.name || '(none)'}: ${g.message}`, width), style: 'red' },
      { text: g.frame || '-', style: 'dim' },
    ]));
    return EXIT.OK;
  },
};

export const dlqTask: Command = {
  name: 'dlq task',
  usage: 'dlq task <queue> [options]',
  summary: 'the queue\'s replay task: progress, or --drop it',
  about: [
    'Shows the queue\'s redrive task, made by kyoo dlq replay: what it replays, how many jobs it replayed, skipped',
    'and has left. An unfinished task is resumed with kyoo dlq replay <queue> --resume, or forgotten with --drop',
    '(the jobs it has not replayed stay dead, as they are).',
  ].join('\n'),
  options: { drop: { type: 'boolean', help: 'forget the task (no job is changed)' } },
  async run(ctx, p) {
    const [name] = positionals('dlq task', p, ['queue']);
    const q = await ctx.existingQueue(name!);
    const task = await q.dead.redrive();
    if (!task) throw new NotFoundError(`queue ${name} has no redrive task`);
    if (flag(p, 'drop')) {
      if (!(await q.dead.dropRedrive())) throw new NotFoundError(`queue ${name} has no redrive task`);
      if (ctx.out.json) ctx.out.data({ dropped: task });
      else ctx.out.line(`dropped the redrive task ${task.id} of ${name} (${task.left} jobs it had left stay dead)`);
      return EXIT.OK;
    }
    if (ctx.out.json) ctx.out.data(task);
    else {
      const rows: [string, string][] = [
        ['task', task.id], ['status', task.status], ['filter', toJson(task.filter)], ['created', when(task.createdAt)],
        ['total', String(task.total)], ['replayed', String(task.replayed)], ['skipped', String(task.skipped)], ['left', String(task.left)],
      ];
      if (task.finishedAt !== undefined) rows.push(['finished', when(task.finishedAt)]);
      for (const [k, v] of rows) ctx.out.line(`${ctx.out.paint('bold', k.padEnd(10))}${v}`);
    }
    return EXIT.OK;
  },
};
