import { setTimeout as sleep } from 'node:timers/promises';
import { findQueues, type QueueStats } from '@kyoo/client';
import { duration, flag, positionals } from '../args.js';
import type { Command } from '../command.js';
import type { Context } from '../context.js';
import { EXIT } from '../exit.js';
import { age, num, type Cell } from '../output.js';

export const queues: Command = {
  name: 'queues',
  usage: 'queues [options]',
  summary: 'list the queues under the prefix',
  about: [
    'Lists the queues under the prefix, found with SCAN (never KEYS; on every master of a Redis Cluster).',
    'A queue is there once it had a job (its jobs hash stays from then on), a policy, a pause or a schedule.',
    'SCAN walks the whole keyspace: fine for an operator, not for a request path.',
  ].join('\n'),
  options: {},
  async run(ctx, p) {
    positionals('queues', p, []);
    const names = await findQueues({ connection: await ctx.redis(), prefix: ctx.prefix });
    if (ctx.out.json) ctx.out.data(names);
    else if (names.length === 0) ctx.out.note(`no queues under the prefix ${ctx.prefix}`);
    else for (const name of names) ctx.out.line(name);
    return EXIT.OK;
  },
};

export const stats: Command = {
  name: 'stats',
  usage: 'stats [queue] [options]',
  summary: 'jobs per state, oldest waiting job, throughput (every queue, or one)',
  about: [
    'Shows, for one queue or every queue under the prefix: jobs ready, delayed, leased (running), dead, completed and',
    'cancelled (those kept by the policy), whether it is paused, how long ago the job first in line was added, and',
    'completions per second over the last minute, counted from the events stream (- when the policy turned events off).',
  ].join('\n'),
  options: {
    watch: { type: 'boolean', short: 'w', help: 'refresh until Ctrl-C (with --json: one JSON object a line per queue and refresh)' },
    interval: { type: 'string', value: 'AGE', help: 'time between refreshes with --watch (default 2s)' },
  },
  async run(ctx, p) {
    const [name] = positionals('stats', p, ['queue?']);
    const every = duration(p, 'interval') ?? 2000;
    const watch = flag(p, 'watch');
    const targets = name === undefined ? undefined : [await ctx.existingQueue(name)];
    for (let first = true; ; first = false) {
      const list = targets ?? (await ctx.targets([]));
      const rows = await Promise.all(list.map(async (q) => ({ queue: q.name, ...(await q.stats()) })));
      if (watch && !first && !ctx.out.json) ctx.out.clear();
      show(ctx, rows, watch, name !== undefined);
      if (!watch) return EXIT.OK;
      try {
        await sleep(every, undefined, { signal: ctx.signal });
      } catch {
        return EXIT.OK; // Ctrl-C ends a watch
      }
    }
  },
};

type Row = QueueStats & { queue: string };

function show(ctx: Context, rows: Row[], watch: boolean, one: boolean): void {
  const { out } = ctx;
  if (out.json) {
    if (watch) for (const r of rows) out.data(r);
    else out.data(one ? rows[0] : rows);
    return;
  }
  if (rows.length === 0) {
    out.note(`no queues under the prefix ${ctx.prefix}`);
    return;
  }
  const cells = rows.map((r): Cell[] => [
    { text: r.queue },
    num(r.counts.ready),
    num(r.counts.delayed),
    num(r.counts.leased),
    num(r.counts.dead, 'red'),
    num(r.counts.completed),
    num(r.counts.cancelled),
    r.counts.paused ? { text: 'paused', style: 'yellow' } : { text: '-' },
    { text: r.oldestWaiting ? age(r.oldestWaiting.ageMs) : '-', right: true },
    { text: r.recent ? r.recent.completedPerSec.toFixed(1) : '-', right: true },
  ]);
  out.table(['QUEUE', 'READY', 'DELAYED', 'LEASED', 'DEAD', 'COMPLETED', 'CANCELLED', 'PAUSED', 'OLDEST', 'DONE/S'], cells);
  if (watch) out.line(out.paint('dim', `${new Date().toISOString()}  (Ctrl-C to stop)`));
}

