import { errorFingerprint } from '@kyoo/client';
import { positionals } from '../args.js';
import type { Command } from '../command.js';
import { EXIT, NotFoundError } from '../exit.js';
import { when } from '../output.js';
import { showJob } from './dlq-read.js';

export const job: Command = {
  name: 'job',
  usage: 'job <queue> <id> [options]',
  summary: 'one job: state, attempts, error history, result, progress',
  about: 'Shows one job in any state: its data, attempts, error history, result (for completed jobs the policy keeps) and latest progress.',
  options: {},
  async run(ctx, p) {
    const [name, id] = positionals('job', p, ['queue', 'id']);
    const q = await ctx.existingQueue(name!);
    const info = await q.getJob(id!);
    if (!info) throw new NotFoundError(`no job ${id} in ${name} (a completed job is gone unless the policy keeps it)`);
    const fingerprint = info.lastError ? errorFingerprint(info.lastError).fingerprint : undefined;
    if (ctx.out.json) ctx.out.data(fingerprint === undefined ? info : { ...info, fingerprint });
    else showJob(ctx, info, fingerprint);
    return EXIT.OK;
  },
};

const pauseOrResume = (paused: boolean): Command => ({
  name: paused ? 'pause' : 'resume',
  usage: `${paused ? 'pause' : 'resume'} <queue> [options]`,
  summary: paused ? 'stop every worker of a queue from taking jobs' : 'let the workers of a paused queue take jobs again',
  about: paused
    ? 'Pauses a queue: no worker leases a job of it until it is resumed. Adds still work, and running jobs finish.'
    : 'Resumes a paused queue: its workers lease jobs again.',
  options: {},
  async run(ctx, p) {
    const [name] = positionals(paused ? 'pause' : 'resume', p, ['queue']);
    const q = await ctx.existingQueue(name!);
    if (paused) await q.pause();
    else await q.resume();
    if (ctx.out.json) ctx.out.data({ queue: name, paused });
    else ctx.out.line(`${paused ? 'paused' : 'resumed'} ${name}`);
    return EXIT.OK;
  },
});

export const pause = pauseOrResume(true);
export const resume = pauseOrResume(false);

export const schedules: Command = {
  name: 'schedules',
  usage: 'schedules <queue> [options]',
  summary: 'a queue\'s schedules: timing, next and last run, runs',
  about: 'Lists the schedules of a queue (cron or interval): their timing, next and last occurrence, runs fired, and whether they are paused or ended.',
  options: {},
  async run(ctx, p) {
    const [name] = positionals('schedules', p, ['queue']);
    const q = await ctx.existingQueue(name!);
    const list = await q.schedules.list();
    const { out } = ctx;
    if (out.json) {
      out.data(list);
      return EXIT.OK;
    }
    if (list.length === 0) {
      out.note(`queue ${name} has no schedules`);
      return EXIT.OK;
    }
    out.table(['ID', 'TIMING', 'NEXT', 'LAST', 'RUNS', 'STATE', 'LAST JOB'], list.map((s) => [
      s.id,
      s.cron !== undefined ? `cron ${s.cron}${s.tz ? ` ${s.tz}` : ''}` : `every ${s.everyMs} ms`,
      s.nextRunAt === null ? '-' : when(s.nextRunAt),
      s.lastRunAt === null ? '-' : when(s.lastRunAt),
      { text: String(s.runs), right: true },
      s.ended ? { text: 'ended', style: 'dim' } : s.paused ? { text: 'paused', style: 'yellow' } : { text: 'active', style: 'green' },
      s.lastJobId ?? '-',
    ]));
    return EXIT.OK;
  },
};
