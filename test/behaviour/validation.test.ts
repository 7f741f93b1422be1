// Validation at the boundary: bad queue names and options throw (or reject) an
// InvalidOptionError naming the option, oversized payloads a PayloadTooLargeError, and in
// every case nothing at all is written to Redis.
import { InvalidOptionError, KyooError, PayloadTooLargeError, Queue, Worker, type JobOptions } from 'kyoo';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scope } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('validation');
});
afterEach(async () => {
  try {
    // the point of every test here: not one key of the queue was written
    expect(await s.existingKeys()).toEqual([]);
  } finally {
    await s.dispose();
  }
});

/** Runs `fn` (sync or async) and returns what it threw; fails the test if it did not throw. */
async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw or a rejection, but it succeeded');
}

async function expectInvalid(fn: () => unknown, option: string | RegExp): Promise<InvalidOptionError> {
  const err = await thrown(fn);
  expect(err).toBeInstanceOf(InvalidOptionError);
  expect(err).toBeInstanceOf(KyooError);
  const e = err as InvalidOptionError;
  expect(e.code).toBe('INVALID_OPTION');
  if (typeof option === 'string') expect(e.option).toBe(option);
  else expect(e.option).toMatch(option);
  expect(e.message).toContain(e.option); // the message names what to change
  return e;
}

const BAD_NAMES: [string, unknown][] = [
  ['empty', ''],
  ['a space', 'has space'],
  ['braces (would break the hash tag)', '{images}'],
  ['a closing brace', 'a}b'],
  ['a leading dash', '-images'],
  ['a leading underscore', '_images'],
  ['129 characters', 'q'.repeat(129)],
  ['a non-ASCII letter', 'bilder-ä'],
  ['a newline', 'images\n'],
  ['a slash', 'a/b'],
  ['a number', 42],
  ['undefined', undefined],
  ['null', null],
];

describe('queue names', () => {
  it.each(BAD_NAMES)('Queue refuses a name with %s', async (_what, name) => {
    await expectInvalid(() => new Queue(name as string, { connection: s.url }), 'queueName');
  });

  it.each(BAD_NAMES)('Worker refuses a name with %s', async (_what, name) => {
    await expectInvalid(() => new Worker(name as string, () => undefined, { connection: s.url }), 'queueName');
  });

  it('accepts the allowed alphabet, up to 128 characters', async () => {
    for (const name of ['a', 'Images_2.v1#0:eu-west', 'q'.repeat(128)]) {
      const q = new Queue(name, { connection: s.url, prefix: `${s.name}-x` });
      expect(q.name).toBe(name);
      await q.close();
    }
  });
});

describe('Queue options', () => {
  const cases: [string, unknown, string][] = [
    ['an unknown key', { connection: 'redis://x', attempts: 3 }, 'options.attempts'],
    ['options that are not an object', 'redis://127.0.0.1', 'options'],
    ['null options', null, 'options'],
    ['an array', [], 'options'],
    ['a negative maxPayloadBytes', { maxPayloadBytes: -1 }, 'maxPayloadBytes'],
    ['maxPayloadBytes 0', { maxPayloadBytes: 0 }, 'maxPayloadBytes'],
    ['a NaN maxPayloadBytes', { maxPayloadBytes: Number.NaN }, 'maxPayloadBytes'],
    ['a float maxPayloadBytes', { maxPayloadBytes: 1.5 }, 'maxPayloadBytes'],
    ['a string maxPayloadBytes', { maxPayloadBytes: '100' }, 'maxPayloadBytes'],
    ['an infinite maxPayloadBytes', { maxPayloadBytes: Number.POSITIVE_INFINITY }, 'maxPayloadBytes'],
    ['a prefix with a space', { prefix: 'my app' }, 'prefix'],
    ['a prefix with braces', { prefix: '{kyoo}' }, 'prefix'],
    ['an empty prefix', { prefix: '' }, 'prefix'],
    ['a prefix that is not a string', { prefix: 7 }, 'prefix'],
    ['defaultJobOptions that are not an object', { defaultJobOptions: 'fast' }, 'defaultJobOptions'],
    ['an unknown default', { defaultJobOptions: { delayMs: 10 } }, 'defaultJobOptions.delayMs'],
    ['default attempts 0', { defaultJobOptions: { attempts: 0 } }, 'defaultJobOptions.attempts'],
    ['negative default attempts', { defaultJobOptions: { attempts: -3 } }, 'defaultJobOptions.attempts'],
    ['float default attempts', { defaultJobOptions: { attempts: 2.5 } }, 'defaultJobOptions.attempts'],
    ['NaN default attempts', { defaultJobOptions: { attempts: Number.NaN } }, 'defaultJobOptions.attempts'],
    ['a bad default backoff type', { defaultJobOptions: { backoff: { type: 'linear' } } }, 'defaultJobOptions.backoff.type'],
    ['a negative default backoff delay', { defaultJobOptions: { backoff: { delayMs: -1 } } }, 'defaultJobOptions.backoff.delayMs'],
    ['a default jitter above 1', { defaultJobOptions: { backoff: { jitter: 1.5 } } }, 'defaultJobOptions.backoff.jitter'],
    ['an unknown backoff key', { defaultJobOptions: { backoff: { retries: 3 } } }, 'defaultJobOptions.backoff.retries'],
    ['a negative default timeout', { defaultJobOptions: { timeoutMs: -1 } }, 'defaultJobOptions.timeoutMs'],
    ['a connection string that is not a URL', { connection: 'localhost:6379' }, 'connection'],
    ['a connection of the wrong type', { connection: 6379 }, 'connection'],
    ['a null connection', { connection: null }, 'connection'],
  ];
  it.each(cases)('refuses %s', async (_what, options, option) => {
    await expectInvalid(() => new Queue(s.name, options as never), option);
  });
});

describe('Worker options', () => {
  const cases: [string, unknown, string][] = [
    ['an unknown key (a typo)', { concurency: 5 }, 'options.concurency'],
    ['options that are not an object', 5, 'options'],
    ['null options', null, 'options'],
    ['concurrency 0', { concurrency: 0 }, 'concurrency'],
    ['negative concurrency', { concurrency: -1 }, 'concurrency'],
    ['float concurrency', { concurrency: 1.5 }, 'concurrency'],
    ['NaN concurrency', { concurrency: Number.NaN }, 'concurrency'],
    ['string concurrency', { concurrency: '4' }, 'concurrency'],
    ['a lease below 100 ms', { leaseMs: 50 }, 'leaseMs'],
    ['a negative lease', { leaseMs: -1000 }, 'leaseMs'],
    ['a float lease', { leaseMs: 1000.5 }, 'leaseMs'],
    ['a NaN lease', { leaseMs: Number.NaN }, 'leaseMs'],
    ['a heartbeat not shorter than the lease', { leaseMs: 1000, heartbeatMs: 1000 }, 'heartbeatMs'],
    ['a heartbeat below 10 ms', { heartbeatMs: 5 }, 'heartbeatMs'],
    ['a negative timeout', { timeoutMs: -1 }, 'timeoutMs'],
    ['a backoff object instead of a function', { backoff: { type: 'fixed', delayMs: 100 } }, 'backoff'],
    ['a backoff number', { backoff: 100 }, 'backoff'],
    ['keepCompleted (queue policy now)', { keepCompleted: true }, 'options.keepCompleted'],
    ['maxErrors (queue policy now)', { maxErrors: 5 }, 'options.maxErrors'],
    ['a negative closeGraceMs', { closeGraceMs: -1 }, 'closeGraceMs'],
    ['a float closeGraceMs', { closeGraceMs: 0.5 }, 'closeGraceMs'],
    ['maxIdleMs 0', { maxIdleMs: 0 }, 'maxIdleMs'],
    ['a non-boolean autostart', { autostart: 'yes' }, 'autostart'],
    ['a bad prefix', { prefix: 'a b' }, 'prefix'],
    ['a connection string that is not a URL', { connection: 'localhost' }, 'connection'],
  ];
  it.each(cases)('refuses %s', async (_what, options, option) => {
    await expectInvalid(() => new Worker(s.name, () => undefined, options as never), option);
  });

  it('refuses a handler that is not a function', async () => {
    const err = await expectInvalid(() => new Worker(s.name, 'handler' as never, { connection: s.url }), 'handler');
    expect(err.message).toMatch(/expected a function/);
  });
});

describe('queue policy', () => {
  const cases: [string, unknown, string][] = [
    ['a policy that is not an object', 'keep', 'policy'],
    ['an unknown key', { keepCompletedCount: 5 }, 'policy.keepCompletedCount'],
    ['keepCompleted of the wrong type', { keepCompleted: 'yes' }, 'policy.keepCompleted'],
    ['keepCompleted null', { keepCompleted: null }, 'policy.keepCompleted'],
    ['keepCompleted.count 0', { keepCompleted: { count: 0 } }, 'policy.keepCompleted.count'],
    ['a float keepCompleted.count', { keepCompleted: { count: 2.5 } }, 'policy.keepCompleted.count'],
    ['a negative keepCompleted.ageMs', { keepCompleted: { ageMs: -1 } }, 'policy.keepCompleted.ageMs'],
    ['an unknown keepCompleted key', { keepCompleted: { max: 10 } }, 'policy.keepCompleted.max'],
    ['maxErrors 0', { maxErrors: 0 }, 'policy.maxErrors'],
    ['a negative maxWaiting', { maxWaiting: -1 }, 'policy.maxWaiting'],
    ['a float maxWaiting', { maxWaiting: 1.5 }, 'policy.maxWaiting'],
    ['priorityAgingMs 0', { priorityAgingMs: 0 }, 'policy.priorityAgingMs'],
    ['a string keepCancelled', { keepCancelled: '10' }, 'policy.keepCancelled'],
  ];
  it.each(cases)('setPolicy refuses %s and writes nothing', async (_what, policy, option) => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.setPolicy(policy as never), option);
  });
});

describe('job options', () => {
  const cases: [string, unknown, string | RegExp][] = [
    ['an unknown key (a typo)', { attempt: 3 }, 'options.attempt'],
    ['options that are not an object', 'urgent', 'options'],
    ['null options', null, 'options'],
    ['attempts 0', { attempts: 0 }, 'attempts'],
    ['negative attempts', { attempts: -1 }, 'attempts'],
    ['float attempts', { attempts: 1.5 }, 'attempts'],
    ['NaN attempts', { attempts: Number.NaN }, 'attempts'],
    ['infinite attempts', { attempts: Number.POSITIVE_INFINITY }, 'attempts'],
    ['string attempts', { attempts: '3' }, 'attempts'],
    ['a backoff string', { backoff: 'fixed' }, 'backoff'],
    ['a bad backoff type', { backoff: { type: 'linear' } }, 'backoff.type'],
    ['a negative backoff delay', { backoff: { delayMs: -5 } }, 'backoff.delayMs'],
    ['a float backoff delay', { backoff: { delayMs: 1.5 } }, 'backoff.delayMs'],
    ['a NaN backoff delay', { backoff: { delayMs: Number.NaN } }, 'backoff.delayMs'],
    ['a negative maxDelayMs', { backoff: { maxDelayMs: -1 } }, 'backoff.maxDelayMs'],
    ['jitter above 1', { backoff: { jitter: 2 } }, 'backoff.jitter'],
    ['NaN jitter', { backoff: { jitter: Number.NaN } }, 'backoff.jitter'],
    ['an unknown backoff key', { backoff: { factor: 3 } }, 'backoff.factor'],
    ['an all-digit jobId', { jobId: '12345' }, 'jobId'],
    ['an empty jobId', { jobId: '' }, 'jobId'],
    ['a numeric jobId', { jobId: 42 }, 'jobId'],
    ['a 257-character jobId', { jobId: 'j'.repeat(257) }, 'jobId'],
    ['delayMs together with runAt', { delayMs: 100, runAt: Date.now() + 1000 }, /^(delayMs|runAt)$/],
    ['a negative delay', { delayMs: -1 }, 'delayMs'],
    ['a float delay', { delayMs: 1.5 }, 'delayMs'],
    ['a NaN delay', { delayMs: Number.NaN }, 'delayMs'],
    ['a string delay', { delayMs: '100' }, 'delayMs'],
    ['a delay over ten years', { delayMs: 11 * 365 * 24 * 3600 * 1000 }, 'delayMs'],
    ['a runAt string', { runAt: 'tomorrow' }, 'runAt'],
    ['an invalid Date', { runAt: new Date('not a date') }, 'runAt'],
    ['a NaN runAt', { runAt: Number.NaN }, 'runAt'],
    ['a negative timeout', { timeoutMs: -1 }, 'timeoutMs'],
    ['a float timeout', { timeoutMs: 0.5 }, 'timeoutMs'],
    ['a priority above 1000', { priority: 1001 }, 'priority'],
    ['a priority below -1000', { priority: -1001 }, 'priority'],
    ['a float priority', { priority: 1.5 }, 'priority'],
    ['a string priority', { priority: 'high' }, 'priority'],
    ['dedup that is not an object', { dedup: 'k' }, 'dedup'],
    ['dedup without a key', { dedup: {} }, 'dedup.key'],
    ['an empty dedup key', { dedup: { key: '' } }, 'dedup.key'],
    ['a dedup key over 512 characters', { dedup: { key: 'k'.repeat(513) } }, 'dedup.key'],
    ['an unknown dedup mode', { dedup: { key: 'k', mode: 'forever' } }, 'dedup.mode'],
    ['a dedup window without ttlMs', { dedup: { key: 'k', mode: 'window' } }, 'dedup.ttlMs'],
    ['a debounce without ttlMs', { dedup: { key: 'k', mode: 'debounce' } }, 'dedup.ttlMs'],
    ['a negative dedup ttlMs', { dedup: { key: 'k', ttlMs: -1 } }, 'dedup.ttlMs'],
    ['an unknown dedup key', { dedup: { key: 'k', ttl: 5 } }, 'dedup.ttl'],
  ];

  it.each(cases)('add() rejects %s', async (_what, opts, option) => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.add({ ok: true }, opts as JobOptions), option);
  });

  it('add() rejects a payload that msgpack cannot encode (BigInts of any size it keeps: see hardening.test.ts)', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.add({ s: Symbol('x') }), 'data');
  });

  it('an invalid add() in the same tick as valid ones rejects alone, before anything is written', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const results = await Promise.allSettled([q.add({ n: 1 }, { attempts: 0 }), q.add({ n: 2 }, { delayMs: -1 })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('payload size', () => {
  it('rejects a payload over maxPayloadBytes with PayloadTooLargeError', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url, maxPayloadBytes: 64 }));
    const err = await thrown(() => q.add('x'.repeat(63))); // 65 bytes as msgpack (str8 header + 63)
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toBeInstanceOf(KyooError);
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', sizeBytes: 65, limitBytes: 64 });
    expect((err as Error).message).toMatch(/maxPayloadBytes/);
  });

  it('rejects a payload over the default limit of 512 KiB', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const err = await thrown(() => q.add({ blob: 'x'.repeat(600_000) }));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ limitBytes: 512 * 1024 });
  });
});

describe('addBulk', () => {
  const good = (n: number) => ({ data: { n } });

  it('rejects the whole call when one job has a bad option', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.addBulk([good(1), good(2), { data: { n: 3 }, opts: { attempts: 0 } }, good(4)]), 'jobs[2].attempts');
  });

  it('rejects the whole call when one payload is too large', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url, maxPayloadBytes: 100 }));
    const err = await thrown(() => q.addBulk([good(1), { data: { n: 'x'.repeat(200) } }, good(3)]));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
  });

  it('rejects the whole call when the bad job is past the first 1,000 (one script call)', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const jobs: { data: unknown; opts?: JobOptions }[] = Array.from({ length: 1500 }, (_, n) => good(n));
    jobs[1200] = { data: { n: 1200 }, opts: { jobId: '1200' } };
    await expectInvalid(() => q.addBulk(jobs), 'jobs[1200].jobId');
  });

  it('rejects a non-array and an entry that is not a job', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.addBulk({ data: 1 } as never), 'jobs');
    await expectInvalid(() => q.addBulk([good(1), null as never]), 'jobs[1]');
  });
});

describe('dead-letter listing', () => {
  it('refuses a page that is not a number with InvalidOptionError, not a Redis error', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.dead.list({ limit: Number.NaN }), /limit/);
    await expectInvalid(() => q.dead.list({ offset: Number.NaN }), /offset/);
  });
});

describe('dead-letter admin arguments', () => {
  const bad: [string, unknown, string][] = [
    ['null', null, 'ids'],
    ['a number', 42, 'ids'],
    ['an object', {}, 'ids'],
    ['an empty id', '', 'ids'],
    ['an array with a number', ['1', 2], 'ids[1]'],
    ['an array with an empty id', [''], 'ids[0]'],
    ['an array with a hole', [, '1'], 'ids[0]'], // eslint-disable-line no-sparse-arrays
    ['an array with null', [null], 'ids[0]'],
  ];
  it.each(bad)('replay refuses %s with InvalidOptionError naming it', async (_what, ids, option) => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.dead.replay(ids as never), option);
  });
  it.each(bad)('purge refuses %s with InvalidOptionError naming it', async (_what, ids, option) => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.dead.purge(ids as never), option);
  });
  it.each([['an empty id', ''], ['a number', 42], ['null', null], ['an object', {}]])('get refuses %s', async (_what, id) => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expectInvalid(() => q.dead.get(id as never), 'id');
    await expectInvalid(() => q.getJob(id as never), 'id');
  });
});

describe('run-at and delay limits agree', () => {
  const TEN_YEARS = 10 * 365 * 24 * 3600 * 1000;
  it('refuses a runAt more than 10 years ahead, as it refuses such a delayMs', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const err = await expectInvalid(() => q.add({}, { runAt: Date.now() + TEN_YEARS + 60_000 }), 'runAt');
    expect(err.message).toMatch(/10 years/);
    await expectInvalid(() => q.add({}, { runAt: new Date(Date.now() + 100 * TEN_YEARS) }), 'runAt');
    await expectInvalid(() => q.add({}, { delayMs: TEN_YEARS + 60_000 }), 'delayMs');
  });
});

describe('data that would not round-trip', () => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const cases: [string, unknown, RegExp][] = [
    ['a Map', { m: new Map([['a', 1]]) }, /m is a Map/],
    ['-0', { n: -0 }, /n is -0/],
    ['a class instance', { price: new Money(5) }, /price is an instance of Money/],
    ['an array with a hole', { a: [1, , 3] }, /a\[1\] is a hole/], // eslint-disable-line no-sparse-arrays
    ['a function', { f: () => 1 }, /f is a function/],
    ['a symbol', { s: Symbol('x') }, /s is a symbol/],
    ['a symbol key', { [Symbol('k')]: 1 }, /symbol keys/],
    ['a __proto__ key', JSON.parse('{"__proto__": {"admin": true}}'), /__proto__/],
    ['a cycle', (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })(), /deeper than 256/],
    ['an Error', { e: new Error('x') }, /e is an instance of Error/],
  ];
  it.each(cases)('add refuses %s, naming where it is, and writes nothing', async (_what, data, message) => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const err = await expectInvalid(() => q.add(data), 'data');
    expect(err.message).toMatch(message);
    await expectInvalid(() => q.addBulk([{ data: 1 }, { data }]), 'jobs[1].data');
  });
});
