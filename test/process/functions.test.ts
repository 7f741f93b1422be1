// kyoo's scripts as one Redis Functions library (docs/design/020-functions.md), on a private
// redis-server so that its command counters are this file's alone.
import { LIBRARY, SCRIPTS } from '@kyoo/core';
import { Queue, Worker } from 'kyoo';
import { afterEach, expect, test } from 'vitest';
import { redisCommand, startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/behaviour.js';

const servers: RedisServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

/** Calls of each command on the server (INFO commandstats). */
async function calls(port: number): Promise<Record<string, number>> {
  const text = String(await redisCommand(port, ['INFO', 'commandstats']));
  return Object.fromEntries([...text.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** Adds `n` jobs and waits until the worker has completed them all. */
async function roundTrip(queue: Queue<{ n: number }>, done: number[], n: number): Promise<void> {
  const before = done.length;
  await Promise.all(Array.from({ length: n }, (_, i) => queue.add({ n: i })));
  await waitFor(() => done.length >= before + n, 5000, `${n} jobs to complete`);
}

test('the library registers one function per script, and once it is loaded every call is an FCALL', async () => {
  const server = await startRedis();
  servers.push(server);
  const queue = new Queue<{ n: number }>('fn', { connection: server.url });
  const done: number[] = [];
  const worker = new Worker<{ n: number }>('fn', (job) => void done.push(job.data.n), { connection: server.url, concurrency: 4 });
  try {
    await roundTrip(queue, done, 20);
    const list = (await redisCommand(server.port, ['FUNCTION', 'LIST', 'LIBRARYNAME', LIBRARY.name])) as unknown[][];
    expect(list).toHaveLength(1);
    const functions = (list[0]![list[0]!.indexOf('functions') + 1] as unknown[][]).map((f) => String(f[f.indexOf('name') + 1]));
    expect(functions.sort()).toEqual(Object.values(SCRIPTS).map((s) => s.fn).sort());

    const before = await calls(server.port);
    await roundTrip(queue, done, 20);
    await queue.counts();
    const after = await calls(server.port);
    const grew = (cmd: string) => (after[cmd] ?? 0) - (before[cmd] ?? 0);
    expect(grew('fcall'), 'FCALL calls').toBeGreaterThanOrEqual(2);
    expect({ eval: grew('eval'), evalsha: grew('evalsha'), load: grew('function|load') }).toEqual({ eval: 0, evalsha: 0, load: 0 });
  } finally {
    await worker.close(0);
    await queue.close();
  }
});

test("another build's library on the same server is left alone, and each build calls its own functions", async () => {
  const server = await startRedis();
  servers.push(server);
  // a library as another kyoo version would load it: other name, other function names
  const other = LIBRARY.source.replaceAll(LIBRARY.name, 'kyoo_0123456789ab');
  expect(await redisCommand(server.port, ['FUNCTION', 'LOAD', other])).toBe('kyoo_0123456789ab');
  const queue = new Queue<{ n: number }>('fn-two', { connection: server.url });
  const done: number[] = [];
  const worker = new Worker<{ n: number }>('fn-two', (job) => void done.push(job.data.n), { connection: server.url });
  try {
    await roundTrip(queue, done, 10);
    const names = ((await redisCommand(server.port, ['FUNCTION', 'LIST'])) as unknown[][]).map((lib) => String(lib[lib.indexOf('library_name') + 1]));
    expect(names.sort()).toEqual(['kyoo_0123456789ab', LIBRARY.name].sort());
    const before = await calls(server.port);
    await roundTrip(queue, done, 10);
    expect((await calls(server.port)).fcall! - before.fcall!).toBeGreaterThanOrEqual(2);
  } finally {
    await worker.close(0);
    await queue.close();
  }
});

test('FUNCTION FLUSH mid-run: the call that meets it is sent as EVAL, the library is loaded again, and FCALL resumes', async () => {
  const server = await startRedis();
  servers.push(server);
  const queue = new Queue<{ n: number }>('fn-flush', { connection: server.url });
  const done: number[] = [];
  const errors: Error[] = [];
  const worker = new Worker<{ n: number }>('fn-flush', (job) => void done.push(job.data.n), { connection: server.url });
  worker.on('error', (err) => void errors.push(err));
  try {
    await roundTrip(queue, done, 10);
    expect(await redisCommand(server.port, ['FUNCTION', 'FLUSH'])).toBe('OK');
    const flushed = await calls(server.port);
    await roundTrip(queue, done, 10);
    const recovered = await calls(server.port);
    expect((recovered['function|load'] ?? 0) - (flushed['function|load'] ?? 0), 'loads after the flush').toBeGreaterThanOrEqual(1);
    expect((recovered.eval ?? 0) - (flushed.eval ?? 0), 'calls resent as EVAL').toBeGreaterThanOrEqual(1);
    await roundTrip(queue, done, 10);
    const later = await calls(server.port);
    expect(later.fcall! - recovered.fcall!).toBeGreaterThanOrEqual(2);
    expect((later.eval ?? 0) - (recovered.eval ?? 0), 'EVAL once the library is back').toBe(0);
    expect(errors.map((e) => e.message)).toEqual([]);
  } finally {
    await worker.close(0);
    await queue.close();
  }
});

test('a user who may not load functions: every script goes as EVAL/EVALSHA, and nothing fails', async () => {
  const server = await startRedis();
  servers.push(server);
  expect(await redisCommand(server.port, ['ACL', 'SETUSER', 'nofn', 'on', '>nofn-pass', '~*', '+@all', '-function', '-fcall'])).toBe('OK');
  const url = `redis://nofn:nofn-pass@127.0.0.1:${server.port}`;
  const queue = new Queue<{ n: number }>('fn-acl', { connection: url });
  const done: number[] = [];
  const errors: Error[] = [];
  const worker = new Worker<{ n: number }>('fn-acl', (job) => void done.push(job.data.n), { connection: url });
  worker.on('error', (err) => void errors.push(err));
  try {
    await roundTrip(queue, done, 10);
    const before = await calls(server.port);
    await roundTrip(queue, done, 10);
    const after = await calls(server.port);
    expect((after.evalsha ?? 0) - (before.evalsha ?? 0), 'EVALSHA calls').toBeGreaterThanOrEqual(2);
    expect(after.fcall ?? 0, 'FCALL calls').toBe(0);
    expect(errors.map((e) => e.message)).toEqual([]);
  } finally {
    await worker.close(0);
    await queue.close();
  }
});
