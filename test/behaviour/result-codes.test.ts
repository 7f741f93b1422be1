// Result codes: the TypeScript enum mirrors the Lua table, and every code is provoked
// through the real scripts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ResultCode } from '@kyoo/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope, record } from '../support/behaviour.js';

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
    expect(Object.keys(lua).length).toBeGreaterThanOrEqual(5);
    expect(enumCodes()).toEqual(lua);
  });

  it('has distinct values', () => {
    const values = Object.values(luaCodes());
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('every result code, provoked through the scripts', () => {
  let s: Scope;
  const seen = new Set<number>();
  beforeEach(() => {
    s = new Scope('codes');
  });
  afterEach(async () => {
    await s.dispose();
  });

  /** Runs a script and records the codes it returned. */
  async function run(name: Parameters<Scope['run']>[0], args: (string | number | Buffer)[]): Promise<unknown> {
    const reply = await s.run(name, args);
    const collect = (v: unknown): void => {
      if (typeof v === 'number') seen.add(v);
      else if (Array.isArray(v)) v.forEach(collect);
    };
    if (name === 'enqueue') (reply as unknown[]).filter((_, i) => i % 2 === 1).forEach(collect);
    else if (name === 'ack') collect((reply as unknown[])[0]);
    else if (name !== 'lease') collect(reply);
    return reply;
  }

  /** Enqueues one job: with the caller's id, or with a generated id (gen = 1) when `id` is all digits. */
  async function enqueue(id: string, data: unknown, rec: Buffer = record(data)): Promise<[string, number][]> {
    const reply = (await run('enqueue', [1, id, /^\d+$/.test(id) ? 1 : 0, 0, rec])) as unknown[];
    const out: [string, number][] = [];
    for (let i = 0; i < reply.length; i += 2) out.push([String(reply[i]), Number(reply[i + 1])]);
    return out;
  }

  async function leaseOne(): Promise<{ id: string; token: string }> {
    const { jobs } = await s.lease(1, 30_000);
    expect(jobs).toHaveLength(1);
    return { id: jobs[0]!.id, token: jobs[0]!.token };
  }

  const ack = (id: string, token: string) => run('ack', [0, 1000, 0, 10, 0, 0, 1, id, token, '']) as Promise<[number[], unknown]>;
  const fail = (id: string, token: string, dead: 0 | 1) =>
    run('fail', [id, token, dead, 0, Buffer.from([0x80]) /* msgpack {} */, 10]) as Promise<number>;

  it('OK from every script on the happy path', async () => {
    expect(await enqueue('1', { n: 1 })).toEqual([['1', ResultCode.OK]]);
    let job = await leaseOne();
    expect(await run('extend', [30_000, 1, job.id, job.token])).toEqual([ResultCode.OK]);
    expect(await run('release', [1, job.id, job.token])).toEqual([ResultCode.OK]);
    job = await leaseOne();
    expect(await fail(job.id, job.token, 0)).toBe(ResultCode.OK);
    job = await leaseOne();
    expect((await ack(job.id, job.token))[0]).toEqual([ResultCode.OK]);

    await enqueue('poison', {});
    job = await leaseOne();
    expect(await fail(job.id, job.token, 1)).toBe(ResultCode.OK);
    expect(await run('replay', [job.id])).toEqual([ResultCode.OK]);
    job = await leaseOne();
    expect(await fail(job.id, job.token, 1)).toBe(ResultCode.OK);
    expect(await run('purge', [job.id])).toEqual([ResultCode.OK]);

    await enqueue('to-remove', {});
    expect(await run('remove', ['to-remove'])).toBe(ResultCode.OK);
    expect(await run('pause', ['1'])).toBe(ResultCode.OK);
    expect(await run('pause', ['0'])).toBe(ResultCode.OK);
  });

  it('LEASE_LOST from ack, fail, extend and release with a token that is not the current one', async () => {
    await enqueue('j', {});
    const job = await leaseOne();
    const wrong = `${job.token}0`;
    expect((await ack(job.id, wrong))[0]).toEqual([ResultCode.LEASE_LOST]);
    expect(await fail(job.id, wrong, 0)).toBe(ResultCode.LEASE_LOST);
    expect(await fail(job.id, wrong, 1)).toBe(ResultCode.LEASE_LOST);
    expect(await run('extend', [30_000, 1, job.id, wrong])).toEqual([ResultCode.LEASE_LOST]);
    expect(await run('release', [1, job.id, wrong])).toEqual([ResultCode.LEASE_LOST]);
    // the real token still works: nothing was changed by the refused calls
    expect((await ack(job.id, job.token))[0]).toEqual([ResultCode.OK]);
  });

  it('LEASE_LOST for the holder of a job that was removed, and for a job that was never leased', async () => {
    await enqueue('j', {});
    const job = await leaseOne();
    expect(await run('remove', [job.id])).toBe(ResultCode.OK);
    expect((await ack(job.id, job.token))[0]).toEqual([ResultCode.LEASE_LOST]);
    expect(await fail(job.id, job.token, 0)).toBe(ResultCode.LEASE_LOST);
    expect(await run('extend', [30_000, 1, job.id, job.token])).toEqual([ResultCode.LEASE_LOST]);
    expect(await run('release', [1, job.id, job.token])).toEqual([ResultCode.LEASE_LOST]);
    // nothing came back to life
    expect(await s.admin.hexists(s.keys.jobs, job.id)).toBe(0);
    expect(await s.admin.llen(s.keys.ready)).toBe(0);
    expect(await s.admin.zcard(s.keys.dead)).toBe(0);

    await enqueue('waiting', {});
    expect((await ack('waiting', '1:1'))[0]).toEqual([ResultCode.LEASE_LOST]);
    expect(await fail('waiting', '1:1', 1)).toBe(ResultCode.LEASE_LOST);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['waiting']);
  });

  it('NOT_FOUND from remove, replay and purge of an unknown id', async () => {
    expect(await run('remove', ['nope'])).toBe(ResultCode.NOT_FOUND);
    expect(await run('replay', ['nope'])).toEqual([ResultCode.NOT_FOUND]);
    expect(await run('purge', ['nope'])).toEqual([ResultCode.NOT_FOUND]);
    await enqueue('gone', {});
    expect(await run('remove', ['gone'])).toBe(ResultCode.OK);
    expect(await run('remove', ['gone'])).toBe(ResultCode.NOT_FOUND);
  });

  it('DUPLICATE from enqueue with an existing jobId; the original record is unchanged', async () => {
    expect(await enqueue('order-1', { v: 1 })).toEqual([['order-1', ResultCode.OK]]);
    const original = await s.admin.hgetBuffer(s.keys.jobs, 'order-1');
    expect(await enqueue('order-1', { v: 2 })).toEqual([['order-1', ResultCode.DUPLICATE]]);
    expect(await s.admin.hgetBuffer(s.keys.jobs, 'order-1')).toEqual(original);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['order-1']);

    // twice in one call: the first wins
    const reply = (await run('enqueue', [2, 'order-2', 0, 0, record({ v: 1 }), 'order-2', 0, 0, record({ v: 2 })])) as unknown[];
    expect(reply.map((v) => (typeof v === 'number' ? v : String(v)))).toEqual(['order-2', ResultCode.OK, 'order-2', ResultCode.DUPLICATE]);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['order-1', 'order-2']);

    // a leased or dead job with that id is a duplicate too, and stays where it is
    const job = await leaseOne();
    expect(await enqueue(job.id, { v: 3 })).toEqual([[job.id, ResultCode.DUPLICATE]]);
    expect(await fail(job.id, job.token, 1)).toBe(ResultCode.OK);
    expect(await enqueue(job.id, { v: 4 })).toEqual([[job.id, ResultCode.DUPLICATE]]);
    expect(await s.admin.zrange(s.keys.dead, 0, -1)).toEqual([job.id]);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['order-2']);
  });

  it('NOT_DEAD from replay and purge of a ready, a delayed and a leased job', async () => {
    await enqueue('leased', {});
    const job = await leaseOne();
    await enqueue('ready', {});
    await run('enqueue', [1, 'delayed', 0, 60_000, record({})]);
    for (const id of ['ready', 'delayed', job.id]) {
      expect(await run('replay', [id])).toEqual([ResultCode.NOT_DEAD]);
      expect(await run('purge', [id])).toEqual([ResultCode.NOT_DEAD]);
    }
    // still where they were
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['ready']);
    expect(await s.admin.zscore(s.keys.delayed, 'delayed')).not.toBeNull();
    expect((await ack(job.id, job.token))[0]).toEqual([ResultCode.OK]);
    // one call, three outcomes
    expect(await run('purge', ['ready', 'nope'])).toEqual([ResultCode.NOT_DEAD, ResultCode.NOT_FOUND]);
  });

  it('generated ids: the same add sent twice is one job (OK both times); another record under a taken id gets a fresh id', async () => {
    const rec = record({ v: 1 });
    expect(await enqueue('7', {}, rec)).toEqual([['7', ResultCode.OK]]);
    // a resend after a reconnect carries the same id and the same record bytes: nothing changes
    expect(await enqueue('7', {}, rec)).toEqual([['7', ResultCode.OK]]);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['7']);
    // a different job under a generated id that is taken (the counter went back): a fresh id from the counter
    await s.admin.set(s.keys.ids, '100');
    expect(await enqueue('7', {}, record({ v: 2 }))).toEqual([['101', ResultCode.OK]]);
    expect(await s.admin.lrange(s.keys.ready, 0, -1)).toEqual(['7', '101']);
  });

  it('DONE_ALREADY from the same ack repeated after it was applied (kept job); LEASE_LOST from any other token', async () => {
    const ackKeep = (id: string, token: string) => run('ack', [0, 1000, 0, 10, 100, 0, 1, id, token, '']) as Promise<[number[], unknown]>;
    await enqueue('a', {});
    const a = await leaseOne();
    expect((await ackKeep(a.id, a.token))[0]).toEqual([ResultCode.OK]);
    expect((await ackKeep(a.id, a.token))[0]).toEqual([ResultCode.DONE_ALREADY]);
    // a late ack of an earlier lease of the same job is no repeat: refused
    const [attempt, fence] = a.token.split(':');
    expect((await ackKeep(a.id, `${attempt}:${Number(fence) - 1}`))[0]).toEqual([ResultCode.LEASE_LOST]);
    expect(await s.admin.zrange(s.keys.done, 0, -1)).toEqual(['a']);
  });

  // runs last (tests in a file run in order): every code of the table came back from a script
  it('provoked every code of the table', () => {
    expect([...seen].sort()).toEqual(Object.values(luaCodes()).sort());
  });
});
