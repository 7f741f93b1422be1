import { setTimeout as sleep } from 'node:timers/promises';
import { findQueues, type GroupInfo, type Queue, type QueueStats } from '@kyoo/client';
import { duration, flag, int, positionals } from '../args.js';
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
    'GROUPS counts the groups with a job waiting or running. For one queue, the groups with the most jobs waiting follow',
    '(their waiting and running jobs), from a bounded scan of the first 10,000 groups.',
  ].join('\n'),
  options: {
    groups: { type: 'string', value: 'N', help: 'groups to show for one queue, most waiting first (default 10; 0 = none)' },
    watch: { type: 'boolean', short: 'w', help: 'refresh until Ctrl-C (with --json: one JSON object a line per queue and refresh)' },
    interval: { type: 'string', value: 'AGE', help: 'time between refreshes with --watch (default 2s)' },
  },
  async run(ctx, p) {
    const [name] = positionals('stats', p, ['queue?']);
    const every = duration(p, 'interval') ?? 2000;
    const watch = flag(p, 'watch');
    const top = int(p, 'groups', 10, 0, 1000);
    const targets = name === undefined ? undefined : [await ctx.existingQueue(name)];
    for (let first = true; ; first = false) {
      const list = targets ?? (await ctx.targets([]));
      const rows = await Promise.all(list.map(async (q) => ({ queue: q.name, ...(await q.stats()), groups: await groupsOf(q, name === undefined ? 0 : top) })));
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

type Row = QueueStats & { queue: string; groups: { count: number; top: GroupInfo[] } };

/** Groups scanned at most for the top list: the scan stays bounded however many groups there are. */
const GROUP_SCAN = 10_000;

/** How many groups the queue has, and the `top` with the most jobs waiting (from the first {@link GROUP_SCAN}). */
async function groupsOf(q: Queue, top: number): Promise<Row['groups']> {
  const count = await q.groups.count();
  if (top === 0 || count === 0) return { count, top: [] };
  const seen: GroupInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await q.groups.list(cursor === undefined ? { count: 1000 } : { cursor, count: 1000 });
    seen.push(...page.groups);
    cursor = page.cursor;
  } while (cursor !== undefined && seen.length < GROUP_SCAN);
  seen.sort((a, b) => b.waiting - a.waiting || b.running - a.running || (a.group < b.group ? -1 : 1));
  return { count, top: seen.slice(0, top) };
}

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
    num(r.groups.count),
  ]);
  out.table(['QUEUE', 'READY', 'DELAYED', 'LEASED', 'DEAD', 'COMPLETED', 'CANCELLED', 'PAUSED', 'OLDEST', 'DONE/S', 'GROUPS'], cells);
  const groups = one ? rows[0]!.groups : undefined;
  if (groups && groups.top.length > 0) {
    out.line('');
    out.table(['GROUP', 'WAITING', 'RUNNING'], groups.top.map((g): Cell[] => [{ text: g.group }, num(g.waiting), num(g.running)]));
    if (groups.count > groups.top.length) out.line(out.paint('dim', `${groups.top.length} of ${groups.count} groups, most waiting first`));
  }
  if (watch) out.line(out.paint('dim', `${new Date().toISOString()}  (Ctrl-C to stop)`));
}

