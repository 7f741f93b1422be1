// Result codes: the TypeScript enum mirrors the Lua table, and every code is provoked
// through the real scripts, each by its own self-contained test (any order, any subset).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ResultCode, type LeasedJob } from '@kyoo/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, enqueueEntry, record } from '../support/behaviour.js';

const CODES_LUA = fileURLToPath(new URL('../../lua/includes/codes.lua', import.meta.url));

/** The CODE table of lua/includes/codes.lua, parsed. */
function luaCodes(): Record<string, number> {
  const source = readFileSync(CODES_LUA, 'utf8');
  const table = /local\s+CODE\s*=\s*\{([\s\S]*?)\n\}/.exec(source);
  if (!table) throw new Error(`no 'local CODE = { ... }' table in ${CODES_LUA}`);
  const out: Record<string, number> = {};
  for (const line of table[1]!.split('\n')) {
    const code = line.replace(/--.*$/, '').trim();
    if (code === '') continue;
    const m = /^([A-Z_][A-Z0-9_]*)\s*=\s*(-?\d+)\s*,?$/.exec(code);
    if (!m) throw new Error(`cannot parse line of the CODE table: ${line}`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** The enum's name → value pairs (a numeric TS enum also maps values back to names). */
function enumCodes(): Record<string, number> {
  return Object.fromEntries(Object.entries(ResultCode).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
}

describe('ResultCode mirrors lua/includes/codes.lua', () => {
  it('has the same names with the same values', () => {
    const lua = luaCodes();
    expect(Object.keys(lua)).toEqual(expect.arrayContaining(['OK', 'LEASE_LOST', 'NOT_FOUND', 'CANCELLED', 'QUEUE_FULL']));
    expect(enumCodes()).toEqual(lua);
  });

  it('has distinct values', () => {
    const values = Object.values(luaCodes());
    expect(new Set(values).size).toBe(values.length);
  });
});

let s: Scope;
beforeEach(() => {
  s = new Scope('codes');
});
afterEach(async () => {
  await s.dispose();
});

/** Enqueues jobs with the caller's ids (or generated ones, for all-digit ids). */
async function enqueue(...jobs: [id: string, rec?: Buffer][]): Promise<[string, ResultCode][]> {
  const out = await s.call('enqueue', {
    allOrNothing: false,
    reserve: 0,
    jobs: jobs.map(([id, rec]) => enqueueEntry(id, rec ?? record({ id }), { gen: /^\d+$/.test(id) })),
  });
  return out.map((o) => [o.id, o.code]);
}
async function leaseOne(): Promise<LeasedJob> {
  const { jobs } = await s.lease(1, 30_000);
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}
const ack = async (id: string, token: string): Promise<ResultCode> =>
  (await s.call('ack', { n: 0, leaseMs: 1000, rnd: 0, nonce: 'x', worker: '', dedups: '', acks: [{ id, token, result: '' }] })).codes[0]!;
const fail = (id: string, token: string, dead: boolean): Promise<ResultCode> =>
  s.call('fail', { id, token, dead, delayMs: 0, error: Buffer.from([0x80]) /* msgpack {} */, dedup: '' });
const extend = async (id: string, token: string): Promise<ResultCode> => (await s.call('extend', { leaseMs: 30_000, leases: [{ id, token }] }))[0]!;
const release = async (id: string, token: string): Promise<ResultCode> => (await s.call('release', { delayMs: 0, leases: [{ id, token }] }))[0]!;

/** Enqueues, leases and dead-letters one job (the queue must have no other job waiting); returns its `dead` score (its time of death, as Redis gives it). */
async function killed(id: string): Promise<string> {
  await enqueue([id]);
  const job = await leaseOne();
  expect(await fail(job.id, job.token, true)).toBe(ResultCode.OK);
  return (await s.admin.zscore(s.keys.dead, id))!;
}
const build = (task: string, create: boolean, seal: boolean, jobs: { id: string; died: string }[] = []) =>
  s.call('redriveBuild', { task, create, seal, filter: '{}', jobs });

/** One self-contained way to provoke each code; the last test checks that the table is complete. */
const PROVOKE: Record<string, () => Promise<void>> = {
  OK: async () => {
    expect(await enqueue(['1'])).toEqual([['1', ResultCode.OK]]);
    let job = await leaseOne();
    expect(await extend(job.id, job.token)).toBe(ResultCode.OK);
    expect(await release(job.id, job.token)).toBe(ResultCode.OK);
    job = await leaseOne();
    expect(await fail(job.id, job.token, false)).toBe(ResultCode.OK);
    job = await leaseOne();
    expect(await ack(job.id, job.token)).toBe(ResultCode.OK);
    await enqueue(['poison']);
    job = await leaseOne();
    expect(await fail(job.id, job.token, true)).toBe(ResultCode.OK);
    expect(await s.call('replay', { ids: [{ id: job.id, died: '' }] })).toEqual([ResultCode.OK]);
    job = await leaseOne();
    expect(await fail(job.id, job.token, true)).toBe(ResultCode.OK);
    expect(await s.call('purge', { ids: [{ id: job.id, died: '' }] })).toEqual([ResultCode.OK]);
    await enqueue(['to-remove'], ['to-cancel']);
    expect(await s.call('remove', { id: 'to-remove' })).toBe(ResultCode.OK);
    expect(await s.call('cancel', { id: 'to-cancel' })).toBe(ResultCode.OK);
    expect(await s.call('pause', { paused: true })).toBe(ResultCode.OK);
    expect(await s.call('pause', { paused: false })).toBe(ResultCode.OK);
    expect(await s.call('setPolicy', { fields: [{ field: 'max_errors', value: 5 }] })).toBe(ResultCode.OK);
    // a redrive task: made in two calls, run, dropped
    const died = await killed('redriven');
    expect(await build('t1', true, false)).toEqual([ResultCode.OK, 0]);
    expect(await build('t1', false, true, [{ id: 'redriven', died }])).toEqual([ResultCode.OK, 1]);
    expect(await s.call('redriveRun', { task: 't1', n: 10 })).toEqual([ResultCode.OK, 1, 0, 0, 1, 0]);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['redriven']);
    expect(await s.call('redriveDrop', { task: 't1' })).toBe(ResultCode.OK);
  },
  LEASE_LOST: async () => {
    await enqueue(['j']);
    const job = await leaseOne();
    const wrong = `${job.token}0`;
    expect(await ack(job.id, wrong)).toBe(ResultCode.LEASE_LOST);
    expect(await fail(job.id, wrong, false)).toBe(ResultCode.LEASE_LOST);
    expect(await fail(job.id, wrong, true)).toBe(ResultCode.LEASE_LOST);
    expect(await extend(job.id, wrong)).toBe(ResultCode.LEASE_LOST);
    expect(await release(job.id, wrong)).toBe(ResultCode.LEASE_LOST);
    // the real token still works: nothing was changed by the refused calls
    expect(await ack(job.id, job.token)).toBe(ResultCode.OK);
    // the holder of a removed job, and a job that was never leased
    await enqueue(['k'], ['waiting']);
    const k = await leaseOne();
    expect(await s.call('remove', { id: k.id })).toBe(ResultCode.OK);
    expect(await ack(k.id, k.token)).toBe(ResultCode.LEASE_LOST);
    expect(await extend(k.id, k.token)).toBe(ResultCode.LEASE_LOST);
    expect(await s.admin.hexists(s.keys.jobs, k.id)).toBe(0);
    expect(await fail('waiting', '1:1:x', true)).toBe(ResultCode.LEASE_LOST);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['waiting']);
  },
  NOT_FOUND: async () => {
    expect(await s.call('remove', { id: 'nope' })).toBe(ResultCode.NOT_FOUND);
    expect(await s.call('cancel', { id: 'nope' })).toBe(ResultCode.NOT_FOUND);
    expect(await s.call('replay', { ids: [{ id: 'nope', died: '' }] })).toEqual([ResultCode.NOT_FOUND]);
    expect(await s.call('purge', { ids: [{ id: 'nope', died: '' }] })).toEqual([ResultCode.NOT_FOUND]);
    expect(await s.call('scheduleRemove', { id: 'nope' })).toBe(ResultCode.NOT_FOUND);
    expect(await s.call('schedulePause', { id: 'nope', paused: true, rev: 0, nextMs: 0 })).toBe(ResultCode.NOT_FOUND);
    expect(await s.call('redriveRun', { task: 'nope', n: 1 })).toEqual([ResultCode.NOT_FOUND, 0, 0, 0, 0, 0]);
    expect(await s.call('redriveDrop', { task: '' })).toBe(ResultCode.NOT_FOUND);
  },
  DUPLICATE: async () => {
    // redrive-build of a new task while one is active: refused, the active one stays
    const died = await killed('in-task');
    await build('first', true, false, [{ id: 'in-task', died }]);
    await build('first', false, true);
    expect(await build('second', true, false)).toEqual([ResultCode.DUPLICATE, 1]);
    expect(await s.admin.hget(s.keys.redrive, 'id')).toBe('first');
    expect(await s.admin.zrange(s.keys.redrive_ids, 0, -1)).toEqual(['in-task']);
    expect(await enqueue(['order-1', record({ v: 1 })])).toEqual([['order-1', ResultCode.OK]]);
    const original = await s.admin.hgetBuffer(s.keys.jobs, 'order-1');
    expect(await enqueue(['order-1', record({ v: 2 })])).toEqual([['order-1', ResultCode.DUPLICATE]]);
    expect(await s.admin.hgetBuffer(s.keys.jobs, 'order-1')).toEqual(original);
    // twice in one call: the first wins
    expect(await enqueue(['order-2', record({ v: 1 })], ['order-2', record({ v: 2 })])).toEqual([['order-2', ResultCode.OK], ['order-2', ResultCode.DUPLICATE]]);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['order-1', 'order-2']);
    // schedule-upsert of the spec stored already: nothing changes
    const up = { id: 'sd', spec: Buffer.from('same'), timing: 't', nextMs: 5000, limit: 0 };
    expect(await s.call('scheduleUpsert', up)).toEqual([ResultCode.OK, 1]);
    expect(await s.call('scheduleUpsert', { ...up, nextMs: 9000 })).toEqual([ResultCode.DUPLICATE, 1]);
    expect(await s.admin.zscore(s.keys.schedule_next, 'sd')).toBe('5000');
  },
  NOT_DEAD: async () => {
    await enqueue(['leased']);
    const job = await leaseOne();
    await enqueue(['ready']);
    await s.call('enqueue', { allOrNothing: false, reserve: 0, jobs: [enqueueEntry('delayed', record({}), { delay: 60_000 })] });
    for (const id of ['ready', 'delayed', job.id]) {
      expect(await s.call('replay', { ids: [{ id, died: '' }] })).toEqual([ResultCode.NOT_DEAD]);
      expect(await s.call('purge', { ids: [{ id, died: '' }] })).toEqual([ResultCode.NOT_DEAD]);
    }
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['ready']);
    // still delayed, due a minute after it was added (Redis's clock)
    expect(Number(await s.admin.zscore(s.keys.delayed, 'delayed'))).toBeGreaterThan((await s.redisNow()) + 50_000);
  },
  NOT_DELAYED: async () => {
    await enqueue(['waiting']);
    await s.call('enqueue', { allOrNothing: false, reserve: 0, jobs: [enqueueEntry('later', record({}), { delay: 60_000 })] });
    expect(await s.call('runNow', { ids: [{ id: 'waiting' }, { id: 'later' }, { id: 'later' }, { id: 'nobody' }] }))
      .toEqual([ResultCode.NOT_DELAYED, ResultCode.OK, ResultCode.NOT_DELAYED, ResultCode.NOT_FOUND]);
    // the delayed one is ready now, behind the job that was waiting; the waiting one is where it was
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['waiting', 'later']);
    expect(await s.admin.zcard(s.keys.delayed)).toBe(0);
  },
  DONE_ALREADY: async () => {
    await s.policy({ keepCompleted: { count: 100 } });
    await enqueue(['a'], ['b']);
    const a = await leaseOne();
    expect(await ack(a.id, a.token)).toBe(ResultCode.OK);
    expect(await ack(a.id, a.token)).toBe(ResultCode.DONE_ALREADY);
    // a late ack of an earlier lease of the same job is no repeat: refused
    expect(await ack(a.id, a.token.replace(/^(\d+):(\d+)/, (_, at: string, f: string) => `${at}:${Number(f) - 1}`))).toBe(ResultCode.LEASE_LOST);
    expect(await s.admin.zrange(s.keys.done, 0, -1)).toEqual(['a']);
    // cancel of a job that has ended: nothing changes
    expect(await s.call('cancel', { id: 'a' })).toBe(ResultCode.DONE_ALREADY);
    expect(await s.admin.zrange(s.keys.done, 0, -1)).toEqual(['a']);
    // redrive-run of a task that is done: nothing changes
    await build('empty', true, true);
    expect(await s.admin.hget(s.keys.redrive, 'status')).toBe('done');
    expect(await s.call('redriveRun', { task: 'empty', n: 5 })).toEqual([ResultCode.DONE_ALREADY, 0, 0, 0, 0, 0]);
  },
  CANCELLED: async () => {
    await enqueue(['c']);
    const job = await leaseOne();
    expect(await s.call('cancel', { id: 'c' })).toBe(ResultCode.RUNNING);
    expect(await extend(job.id, job.token)).toBe(ResultCode.CANCELLED);
    expect(await fail(job.id, job.token, false)).toBe(ResultCode.CANCELLED);
    expect(await ack(job.id, job.token)).toBe(ResultCode.CANCELLED);
    expect(await release(job.id, job.token)).toBe(ResultCode.LEASE_LOST);
    expect(await s.admin.zrange(s.keys.cancelled, 0, -1)).toEqual(['c']);
    expect(await s.admin.zcard(s.keys.ready)).toBe(0);
  },
  QUEUE_FULL: async () => {
    await s.policy({ maxWaiting: 2 });
    expect(await enqueue(['q1'], ['q2'], ['q3'])).toEqual([['q1', ResultCode.OK], ['q2', ResultCode.OK], ['q3', ResultCode.QUEUE_FULL]]);
    expect(await s.admin.hexists(s.keys.jobs, 'q3')).toBe(0);
    // all or nothing (addBulk): one over the limit refuses every job
    await s.call('remove', { id: 'q2' });
    const out = await s.call('enqueue', { allOrNothing: true, reserve: 0, jobs: [enqueueEntry('b1', record({})), enqueueEntry('b2', record({}))] });
    expect(out.map((o) => o.code)).toEqual([ResultCode.QUEUE_FULL, ResultCode.QUEUE_FULL]);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['q1']);
  },
  DEDUPLICATED: async () => {
    const dedup = { dedup: 'welcome:7', dedupMode: 1 };
    const out = await s.call('enqueue', { allOrNothing: false, reserve: 0, jobs: [enqueueEntry('d1', record({ n: 1 }), dedup), enqueueEntry('d2', record({ n: 2 }), dedup)] });
    expect(out).toEqual([{ id: 'd1', code: ResultCode.OK }, { id: 'd1', code: ResultCode.DEDUPLICATED }]);
    expect(await s.admin.hexists(s.keys.jobs, 'd2')).toBe(0);
  },
  RUNNING: async () => {
    await enqueue(['r']);
    await leaseOne();
    expect(await s.call('cancel', { id: 'r' })).toBe(ResultCode.RUNNING);
    expect(await s.admin.zscore(s.keys.leased, 'r')).toBeNull();
  },
  STALE: async () => {
    // a schedule at revision 1 whose pending occurrence is 1000 (long past: due)
    expect(await s.call('scheduleUpsert', { id: 'st', spec: Buffer.from('spec'), timing: 't', nextMs: 1000, limit: 0 })).toEqual([ResultCode.OK, 1]);
    const job = { id: 'st@1000', occurrence: 1000, opts: '', record: record({}) };
    const fire = (rev: number, expected: number) => s.call('scheduleFire', { id: 'st', rev, expected, nextMs: 2000, skipped: 0, limit: 0, jobs: [job] });
    expect((await fire(2, 1000)).code).toBe(ResultCode.STALE); // another revision
    expect((await fire(1, 999)).code).toBe(ResultCode.STALE); // another pending occurrence
    expect(await s.admin.hexists(s.keys.jobs, 'st@1000')).toBe(0);
    expect(await s.call('schedulePause', { id: 'st', paused: true, rev: 0, nextMs: 0 })).toBe(ResultCode.OK);
    expect(await s.call('schedulePause', { id: 'st', paused: false, rev: 1, nextMs: 5000 })).toBe(ResultCode.STALE); // pausing made it revision 2
    expect(await s.admin.zscore(s.keys.schedule_next, 'st')).toBeNull();
    // replay / purge naming a death the job no longer is in (it was replayed and died again): left as it is
    const first = await killed('twice');
    expect(await s.call('replay', { ids: [{ id: 'twice', died: first }] })).toEqual([ResultCode.OK]);
    const again = await leaseOne();
    expect(await fail(again.id, again.token, true)).toBe(ResultCode.OK);
    const second = (await s.admin.zscore(s.keys.dead, 'twice'))!;
    const earlier = String(Number(second) - 1); // the first death could share its ms with the second
    expect(await s.call('replay', { ids: [{ id: 'twice', died: earlier }] })).toEqual([ResultCode.STALE]);
    expect(await s.call('purge', { ids: [{ id: 'twice', died: earlier }] })).toEqual([ResultCode.STALE]);
    expect(await s.admin.zscore(s.keys.dead, 'twice')).toBe(second);
    // redrive: a builder whose task was replaced, a run of a task still preparing, a drop of another task
    await build('a', true, false);
    await build('b', true, false);
    expect(await build('a', false, true, [{ id: 'twice', died: second }])).toEqual([ResultCode.STALE, 0]);
    expect(await s.call('redriveRun', { task: 'b', n: 5 })).toEqual([ResultCode.STALE, 0, 0, 0, 0, 0]);
    expect(await s.call('redriveDrop', { task: 'a' })).toBe(ResultCode.STALE);
    expect(await s.admin.hgetall(s.keys.redrive)).toMatchObject({ id: 'b', status: 'preparing', total: '0' });
    expect(await s.admin.zscore(s.keys.dead, 'twice')).toBe(second);
  },
};

describe('every result code, provoked through the scripts', () => {
  it.each(Object.keys(luaCodes()))('%s', async (name) => {
    const provoke = PROVOKE[name];
    expect(provoke, `PROVOKE has no test for ${name}`).toBeTypeOf('function');
    await provoke!();
  });
});
