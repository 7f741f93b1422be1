import { checkGroup, checkInt, checkKnownKeys, checkObject, rateLimit, type QueueKeys, type RateLimit, type RedisConnection, type Scripts } from '@kyoo/core';
import { execValues } from './exec.js';

/** A group's own limits, over the queue policy's `groups` defaults (see {@link Groups.set}). */
export interface GroupLimits {
  /** Jobs of the group running at once (0 = no limit). */
  concurrency?: number;
  /** Starts allowed for the group, as the policy's `rateLimit` counts them; `false` = none. */
  rateLimit?: RateLimit | false;
  /**
   * Its share of the turns, 1-1000: among groups with jobs waiting, a group
   * of weight w starts about w jobs for every one of a group of weight 1.
   * @defaultValue `1`
   */
  weight?: number;
}

/** One group as {@link Groups.get} and {@link Groups.list} read it. */
export interface GroupInfo {
  group: string;
  /** Jobs waiting to run (not delayed). */
  waiting: number;
  /** Jobs running, plus a failed one holding its slot until its retry (strict order). */
  running: number;
}

/** A group with its limits as they apply now, for {@link Groups.get}. */
export interface GroupDetail extends GroupInfo {
  /** Its own limits, as set with {@link Groups.set} (`null` = the policy's defaults apply). */
  own: { concurrency: number | null; rateLimit: RateLimit | false | null; weight: number } | null;
}

/** One page of {@link Groups.list}. */
export interface GroupPage {
  groups: GroupInfo[];
  /** Pass it back as `cursor` for the next page; absent after the last. */
  cursor?: string;
}

/**
 * A queue's groups (jobs added with a `group` key): their own limits, and
 * what waits and runs in each.
 * @example
 * await queue.groups.set('tenant:big', { concurrency: 5, weight: 3 })
 * const { waiting, running } = await queue.groups.get('tenant:big')
 */
export class Groups {
  constructor(
    private readonly redis: () => RedisConnection,
    private readonly keys: QueueKeys,
    private readonly scripts: Scripts,
  ) {}

  /**
   * Gives `group` its own limits (fields left out keep the policy's
   * defaults); they apply from the next lease on, on every worker. Kept until
   * {@link Groups.reset}, whether or not the group has jobs.
   */
  async set(group: string, limits: GroupLimits): Promise<void> {
    checkGroup('group', group);
    const l = checkObject<GroupLimits>('limits', limits);
    checkKnownKeys('limits', l, ['concurrency', 'rateLimit', 'weight']);
    const concurrency = l.concurrency === undefined ? -1 : checkInt('limits.concurrency', l.concurrency, 0, 1_000_000);
    const rate = l.rateLimit === undefined ? { max: -1, intervalMs: -1 } : rateLimit('limits.rateLimit', l.rateLimit);
    const weight = checkInt('limits.weight', l.weight ?? 1, 1, 1000);
    await this.scripts.call(this.redis(), 'groupSet', { group, conf: `${concurrency},${rate.max},${rate.intervalMs},${weight}` });
  }

  /** Removes `group`'s own limits: the policy's `groups` defaults apply again. */
  async reset(group: string): Promise<void> {
    checkGroup('group', group);
    await this.scripts.call(this.redis(), 'groupSet', { group, conf: '' });
  }

  /** What waits and runs in `group` now, and its own limits. */
  async get(group: string): Promise<GroupDetail> {
    checkGroup('group', group);
    const [state, conf] = (await execValues(this.redis().multi().hget(this.keys.groups, group).hget(this.keys.group_conf, group))) as [string | null, string | null];
    const [info] = await this.resolve([parseState(group, state)]);
    return { ...info!, own: parseConf(conf) };
  }

  /** Groups that have a job waiting or running, a page at a time (in no particular order). */
  async list(options: { cursor?: string; count?: number } = {}): Promise<GroupPage> {
    const o = checkObject<{ cursor?: string; count?: number }>('options', options);
    checkKnownKeys('options', o, ['cursor', 'count']);
    const count = checkInt('options.count', o.count ?? 100, 1, 10_000);
    const groups: GroupInfo[] = [];
    let cursor = o.cursor ?? '0';
    if (!/^\d+$/.test(cursor)) cursor = '0';
    do {
      const [next, flat] = await this.redis().hscan(this.keys.groups, cursor, 'COUNT', Math.min(1000, count));
      const page: State[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) page.push(parseState(flat[i]!, flat[i + 1]!));
      for (const g of await this.resolve(page)) if (g.waiting > 0 || g.running > 0) groups.push(g);
      cursor = next;
    } while (cursor !== '0' && groups.length < count);
    return cursor === '0' ? { groups } : { groups, cursor };
  }

  /**
   * A group on the fast path keeps the job that holds its slot in the ready
   * list (`head`): it counts as waiting until it is leased. One ZSCORE per
   * such group, in one round trip.
   */
  private async resolve(states: State[]): Promise<GroupInfo[]> {
    const withHead = states.filter((s) => s.head !== '');
    const leased = new Set<string>();
    if (withHead.length > 0) {
      const multi = this.redis().multi();
      for (const s of withHead) multi.zscore(this.keys.leased, s.head);
      const scores = (await execValues(multi)) as (string | null)[];
      withHead.forEach((s, i) => scores[i] !== null && leased.add(s.group));
    }
    return states.map(({ group, waiting, running, head }) => (head === '' || leased.has(group)
      ? { group, waiting, running }
      : { group, waiting: waiting + 1, running: Math.max(0, running - 1) }));
  }

  /** How many groups have a job waiting or running (or rate state still in use). */
  async count(): Promise<number> {
    return this.redis().hlen(this.keys.groups);
  }
}

type State = GroupInfo & { head: string };

/** A `groups` entry: `<waiting>,<running>,<rate tat>,<place>,<head>` (lua/includes/groups.lua). */
function parseState(group: string, v: string | null): State {
  const m = v ? /^(-?\d+),(-?\d+),[^,]*,.,([\s\S]*)$/.exec(v) : null;
  return { group, waiting: m ? Math.max(0, Number(m[1])) : 0, running: m ? Math.max(0, Number(m[2])) : 0, head: m?.[3] ?? '' };
}

function parseConf(v: string | null): GroupDetail['own'] {
  const m = v ? /^(-?\d+),(-?\d+),(-?\d+),(\d+)$/.exec(v) : null;
  if (!m) return null;
  const [c, max, ms, w] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  return { concurrency: c < 0 ? null : c, rateLimit: max < 0 ? null : max === 0 ? false : { max, intervalMs: ms }, weight: w };
}
