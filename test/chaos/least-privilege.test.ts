// kyoo as a least-privilege Redis user, and over TLS (docs/security.md):
// - a private redis-server whose ACL disables the default user and gives the user `kyoo` only
//   the commands kyoo sends (directly and from its Lua scripts) on the keys `kyoo:*`; a full
//   add -> fail -> DLQ -> replay -> complete cycle plus getJob/counts/pause/resume/remove/purge
//   works as that user, and commands or keys outside the grant are refused;
// - a private redis-server that speaks TLS only (throwaway CA and server certificate made
//   with openssl), with the same ACL; the same cycle over TLS.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { Queue, Topic, Worker } from 'kyoo';
import { afterEach, describe, expect, test } from 'vitest';
import { freePort, uniqueQueueName } from '../support/redis.js';
import { startPrivateRedis, tempDir, type PrivateRedis } from '../support/private-redis.js';

/** The commands kyoo needs; docs/security.md says why each one. Keep the two in step. */
export const KYOO_COMMANDS = [
  // sent by the client
  'fcall', 'function|load', 'eval', 'evalsha', 'incrby', 'blpop', 'multi', 'exec', 'hget', 'hexists', 'zscore', 'zrange',
  'zcard', 'zcount', 'llen', 'info', 'wait', 'ping', 'quit', 'hgetall', 'xread', 'xrange',
  'xrevrange', 'get', 'hkeys', 'xlen', 'xtrim', 'lindex', 'pexpire',
  // called from kyoo's Lua scripts (ACLs apply inside scripts too)
  'time', 'hset', 'hsetnx', 'hdel', 'hlen', 'hmget', 'incr', 'lpop', 'lpush', 'lrem', 'rpush',
  'zadd', 'zpopmin', 'zrangebyscore', 'zrangebylex', 'zrem', 'xadd', 'hincrby', 'hincrbyfloat', 'hscan',
];
const PASSWORD = 'kyoo-test-password';
const ADMIN_PASSWORD = 'admin-test-password';
export const ACL_RULE = `user kyoo on >${PASSWORD} resetkeys ~kyoo:* resetchannels -@all ${KYOO_COMMANDS.map((c) => `+${c}`).join(' ')}`;

const servers: PrivateRedis[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

function writeAclFile(dir: string): string {
  const file = path.join(dir, 'users.acl');
  fs.writeFileSync(file, [
    'user default off',
    ACL_RULE,
    `user admin on >${ADMIN_PASSWORD} ~* &* +@all`,
    '',
  ].join('\n'));
  return file;
}

/** What a call rejected with (its message), or 'ok'. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    // the class (ioredis's ReplyError for a Redis error reply) and the message, whose first
    // word is Redis's error code (NOPERM, NOAUTH, ...)
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

/**
 * The whole life of a job as user `kyoo`: add, fail, dead-letter, list, replay, complete,
 * getJob, counts, pause/resume, remove, the dead-letter filters, groups, a redrive task, purge,
 * stats. `connection` is what Queue and Worker get.
 */
async function fullCycle(connection: RedisOptions | Redis, queueConnection: RedisOptions | Redis = connection): Promise<void> {
  const name = uniqueQueueName('acl');
  const queue = new Queue<{ to: string }>(name, { connection: queueConnection });
  await queue.setPolicy({ keepCompleted: true });
  let providerUp = false;
  const worker = new Worker<{ to: string }>(name, async (job) => {
    if (!providerUp) throw new Error('provider down');
    await job.progress(1);
    return `sent to ${job.data.to}`;
  }, { connection, leaseMs: 2000 });
  const errors: Error[] = [];
  worker.on('error', (err) => errors.push(err));
  try {
    const dead = new Promise<void>((resolve) => worker.once('dead', () => resolve()));
    const id = await queue.add({ to: 'ada@example.com' }, { attempts: 2, backoff: { type: 'fixed', delayMs: 10 } });
    await dead;
    expect(await queue.dead.count()).toBe(1);
    const [listed] = await queue.dead.list({ limit: 10 });
    expect(listed?.id).toBe(id);
    expect(listed?.lastError?.message).toBe('provider down');
    expect((await queue.dead.get(id))?.attemptsMade).toBe(2);
    expect(await queue.counts()).toMatchObject({ dead: 1, ready: 0, leased: 0 });

    providerUp = true;
    const completed = new Promise<unknown>((resolve) => worker.once('completed', (_job, result) => resolve(result)));
    expect((await queue.dead.replay('all')).done).toEqual([id]);
    expect(await completed).toBe('sent to ada@example.com');
    const job = await queue.getJob(id);
    expect(job).toMatchObject({ state: 'completed', data: { to: 'ada@example.com' }, result: 'sent to ada@example.com' });

    await queue.pause();
    expect(await queue.isPaused()).toBe(true);
    const held = await queue.add({ to: 'paused@example.com' });
    expect((await queue.getJob(held))?.state).toBe('ready');
    expect(await queue.remove(held)).toBe(true);
    await queue.resume();
    expect(await queue.isPaused()).toBe(false);

    providerUp = false;
    const dead2 = new Promise<void>((resolve) => worker.once('dead', () => resolve()));
    const doomed = await queue.add({ to: 'nobody@example.com' }, { attempts: 1 });
    await dead2;
    const [group] = await queue.dead.groups();
    expect(group).toMatchObject({ count: 1, message: 'provider down' });
    expect((await queue.dead.find({ errorName: 'Error', olderThanMs: 0 })).jobs.map((j) => j.id)).toEqual([doomed]);
    expect(await queue.dead.createRedrive({ fingerprint: group!.fingerprint })).toMatchObject({ status: 'active', total: 1 });
    expect(await queue.dead.dropRedrive()).toBe(true);
    await queue.dead.createRedrive({ ids: ['no-such-job'] });
    expect(await queue.dead.runRedrive()).toMatchObject({ status: 'done', total: 0 });
    expect((await queue.dead.purge({ fingerprint: group!.fingerprint })).done).toEqual([doomed]);
    expect(await queue.counts()).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0, completed: 1 });

    // schedules: upsert, list, fired by the worker; events: read back in order
    providerUp = true;
    const fired = new Promise<void>((resolve) => worker.once('completed', () => resolve()));
    await queue.schedules.upsert('tick', { everyMs: 200, limit: 1, data: { to: 'schedule@example.com' } });
    expect((await queue.schedules.list()).map((x) => x.id)).toEqual(['tick']);
    await fired;
    const types: string[] = [];
    for await (const e of queue.events({ from: '0' })) {
      if (e.jobId === id) types.push(e.type);
      if (e.type === 'completed' && e.jobId.startsWith('tick@')) break;
    }
    expect(types).toEqual(['added', 'started', 'failed', 'retried', 'started', 'failed', 'dead', 'replayed', 'started', 'progress', 'completed']);

    // results, progress and a topic: a message published to the queue, its result awaited
    const topic = new Topic<{ to: string }>(`${name}-topic`, { connection: queueConnection });
    try {
      expect(await topic.subscribe(name)).toBe(true);
      const { id: message } = await topic.publish({ to: 'topic@example.com' });
      expect(await queue.result(`${name}-topic:${message}`, { timeoutMs: 10_000 })).toBe('sent to topic@example.com');
      expect(await topic.unsubscribe(name)).toBe(true);
    } finally {
      await topic.close();
    }
    // groups, their limits and a back-off: in order, listed, counted
    await queue.setPolicy({ groups: { concurrency: 1, rateLimit: { max: 100, intervalMs: 1000 } }, maxRunning: 10 });
    await queue.groups.set('tenant:a', { weight: 2 });
    const inGroup = await queue.add({ to: 'group@example.com' }, { group: 'tenant:a' });
    expect(await queue.result(inGroup, { timeoutMs: 10_000 })).toBe('sent to group@example.com');
    expect((await queue.groups.get('tenant:a')).own).toMatchObject({ weight: 2 });
    expect((await queue.groups.list()).groups).toEqual([]);
    await queue.groups.count(); // HLEN, granted (a NOPERM would throw)
    await queue.groups.reset('tenant:a');
    // metrics: counters from the scripts, gauges read now
    const m = await queue.metrics();
    expect(m.counters.completed).toBeGreaterThanOrEqual(2);
    expect(m.gauges.dead).toBe(0);
    const stats = await queue.stats();
    expect(stats.counts).toMatchObject({ dead: 0 });
    expect(stats.recent?.completed).toBeGreaterThanOrEqual(1);
    expect(await queue.exists()).toBe(true);
    expect(errors.filter((e) => /NOPERM|NOAUTH|WRONGPASS/.test(e.message))).toEqual([]);
  } finally {
    await worker.close(0);
    await queue.close();
  }
}

describe('as an ACL user with only the commands kyoo needs on kyoo:* keys', () => {
  test('the full cycle works, and anything outside the grant is refused', async () => {
    const dir = tempDir('acl');
    const port = await freePort();
    const admin: RedisOptions = { host: '127.0.0.1', port, username: 'admin', password: ADMIN_PASSWORD };
    servers.push(await startPrivateRedis(dir, ['--port', String(port), '--aclfile', writeAclFile(dir)], admin));
    const kyoo: RedisOptions = { host: '127.0.0.1', port, username: 'kyoo', password: PASSWORD };

    await fullCycle(kyoo);
    // the same, given as a URL
    await fullCycle(`redis://kyoo:${PASSWORD}@127.0.0.1:${port}` as never);

    // the ACL is really in force
    const raw = new Redis({ ...kyoo, maxRetriesPerRequest: 0 });
    const anon = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    anon.on('error', () => undefined);
    try {
      expect(await refusal(raw.set('kyoo:{x}:y', '1'))).toMatch(/^ReplyError: NOPERM .*'set'/); // a command outside the list
      expect(await refusal(raw.call('flushall'))).toMatch(/^ReplyError: NOPERM /);
      expect(await refusal(raw.call('keys', '*'))).toMatch(/^ReplyError: NOPERM /);
      expect(await refusal(raw.call('config', 'get', 'maxmemory'))).toMatch(/^ReplyError: NOPERM /);
      expect(await refusal(raw.call('script', 'flush'))).toMatch(/^ReplyError: NOPERM /);
      expect(await refusal(raw.hget('other:{x}:jobs', '1'))).toMatch(/^ReplyError: NOPERM .*key/); // a key outside the pattern
      expect(await refusal(raw.llen('kyoo'))).toMatch(/^ReplyError: NOPERM .*key/); // 'kyoo' alone does not match kyoo:*
      // a script of kyoo's own commands still cannot reach other keys
      expect(await refusal(raw.eval("return redis.call('hset', KEYS[1], 'a', 'b')", 1, 'other:{x}:jobs'))).toMatch(/^ReplyError: .*(NOPERM|No permissions)/i);
      // a queue under another prefix is refused as a whole, before any job runs
      const other = new Queue(uniqueQueueName('acl-other'), { connection: kyoo, prefix: 'other' });
      expect(await refusal(other.add({ a: 1 }))).toMatch(/^ReplyError: NOPERM /);
      await other.close();
      // the default user is off: no anonymous access
      expect(await refusal(anon.connect().then(() => anon.get('kyoo:x')))).toMatch(/NOAUTH|NOPERM|not available|closed/i);
    } finally {
      raw.disconnect();
      anon.disconnect();
    }
  });
});

test('docs/security.md gives exactly the ACL line this test runs under', () => {
  const doc = fs.readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
  expect(doc).toContain(ACL_RULE.replace(`>${PASSWORD}`, '>CHANGE-ME'));
});

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=kyoo test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext.cnf');
  } catch (err) {
    throw new Error(`openssl failed (is it installed? apt-get install openssl): ${(err as Error).message}`);
  }
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

describe('over TLS', () => {
  test('the full cycle works over TLS as the ACL user; a plain-text client gets nowhere', async () => {
    const dir = tempDir('tls');
    const files = makeCertificates(dir);
    const ca = fs.readFileSync(files.ca);
    const port = await freePort();
    const admin: RedisOptions = { host: '127.0.0.1', port, username: 'admin', password: ADMIN_PASSWORD, tls: { ca } };
    try {
      servers.push(await startPrivateRedis(dir, [
        '--port', '0', '--tls-port', String(port),
        '--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-cert-file', files.ca,
        '--tls-auth-clients', 'no', '--aclfile', writeAclFile(dir),
      ], admin));
    } catch (err) {
      throw new Error(
        `could not start redis-server with TLS. If the log says "Bad directive" for tls-port, this redis-server was built `
        + `without TLS (BUILD_TLS=yes); use Debian's redis-server 7 package or build with TLS.\n${(err as Error).message}`,
      );
    }
    const kyoo: RedisOptions = { host: '127.0.0.1', port, username: 'kyoo', password: PASSWORD, tls: { ca } };
    await fullCycle(kyoo);

    // a rediss:// URL: ioredis turns it into TLS; the CA goes in as an option of the instance
    const viaUrl = new Redis(`rediss://kyoo:${PASSWORD}@127.0.0.1:${port}`, { tls: { ca } });
    try {
      await fullCycle(kyoo, viaUrl);
      expect(viaUrl.status).toBe('ready'); // kyoo leaves a caller's connection open
    } finally {
      viaUrl.disconnect();
    }

    // TLS is really in force: a plain-text client is not served, and an unknown CA is refused
    const plain = new Redis({ host: '127.0.0.1', port, username: 'kyoo', password: PASSWORD, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
    plain.on('error', () => undefined);
    const untrusted = new Redis({ host: '127.0.0.1', port, username: 'kyoo', password: PASSWORD, tls: {}, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2000 });
    let untrustedError = '';
    untrusted.on('error', (err: Error) => { untrustedError ||= err.message; });
    try {
      expect(await refusal(plain.connect().then(() => plain.ping()))).not.toBe('ok');
      expect(await refusal(untrusted.connect().then(() => untrusted.ping()))).not.toBe('ok');
      expect(untrustedError).toMatch(/self[- ]signed|unable to verify|certificate/i);
    } finally {
      plain.disconnect();
      untrusted.disconnect();
    }
  });
});
