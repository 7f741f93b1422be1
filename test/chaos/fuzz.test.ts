// Property-based tests of the public API's boundary, on a private redis-server (so that
// "nothing was written" can be checked as DBSIZE = 0 after every case):
// - random option objects for new Queue, queue.add, queue.addBulk, new Worker and
//   queue.dead.list: a valid one is accepted; one made invalid in exactly one place throws
//   (or rejects) an InvalidOptionError naming that option; any random input either works or
//   throws a KyooError, never a plain TypeError or a Redis error; and an invalid call writes
//   nothing at all;
// - random payloads round-trip exactly through add -> getJob and add -> worker handler.
import { InvalidOptionError, KyooError, PayloadTooLargeError, Queue, Worker } from 'kyoo';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cleanupPrefix, startRedis, uniqueQueueName, type RedisServer } from '../support/redis.js';

const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;
const RUNS = 120;

let server: RedisServer;
let admin: Redis;
let url: string;
beforeAll(async () => {
  server = await startRedis();
  url = server.url;
  admin = new Redis(url);
});
afterAll(async () => {
  await admin?.quit();
  await server?.stop();
});

const dbsize = (): Promise<number> => admin.dbsize();
const wipe = (): Promise<number> => cleanupPrefix(admin, '*');

/** What a call threw or rejected with, or `undefined` when it succeeded (its value is passed to `onValue`). */
async function outcome<T>(fn: () => T | Promise<T>, onValue?: (v: T) => Promise<unknown> | unknown): Promise<unknown> {
  try {
    const v = await fn();
    await onValue?.(v);
    return undefined;
  } catch (err) {
    return err ?? new Error('threw a falsy value');
  }
}

/** Every error the API throws at its boundary: a KyooError that names what to change. */
function expectNamedKyooError(err: unknown, option?: string): void {
  if (!(err instanceof KyooError)) throw new Error(`expected a KyooError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message ?? String(err)}`);
  if (err instanceof PayloadTooLargeError) {
    expect(err.message).toContain('maxPayloadBytes');
    return;
  }
  expect(err).toBeInstanceOf(InvalidOptionError);
  const e = err as InvalidOptionError;
  expect(typeof e.option).toBe('string');
  expect(e.message).toContain(e.option);
  if (option !== undefined && e.option !== option && !e.option.startsWith(`${option}.`) && !e.option.startsWith(`${option}[`)) {
    throw new Error(`expected the error to name ${option}, it names ${e.option}: ${e.message}`);
  }
}

// ---------- value generators ----------

/** Anything at all, including the odd values (NaN, -0, BigInt, Symbol, null-prototype objects, Dates, functions). */
const anyValue = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true, withMap: true, withSet: true, maxDepth: 2 }),
  fc.constantFrom(NaN, -0, Infinity, -Infinity, Symbol('s'), () => 1, new Date(NaN), Number.MAX_VALUE, 2 ** 53),
);
const notNumber = fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.bigInt(), fc.object({ maxDepth: 1 }), fc.array(fc.nat()), fc.date(), fc.constant(Symbol('n')));
/** Not an integer in [min, max]. */
const badInt = (min: number, max: number) => fc.oneof(
  notNumber,
  fc.double({ noInteger: true }),
  fc.constantFrom(NaN, Infinity, -Infinity),
  fc.maxSafeInteger().filter((n) => n < min || n > max),
  ...(max < Number.MAX_SAFE_INTEGER ? [fc.constant(max + 1)] : []),
  fc.constant(min - 1),
);
const int = (min: number, max: number) => fc.oneof(fc.integer({ min, max: Math.min(max, 2 ** 31 - 1) }), fc.constantFrom(min, max));
const notObject = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.nat(), { maxLength: 2 }));
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.#:-]{0,127}$/;
const goodName = fc.stringMatching(/^[a-z0-9][a-z0-9_.#:-]{0,15}$/);
const badName = fc.oneof(fc.string({ maxLength: 140 }).filter((v) => !NAME_RE.test(v)), fc.string({ minLength: 129, maxLength: 140 }), notNumber.filter((v) => typeof v !== 'string'), fc.integer());

/** A spec per option: valid values, and values that are invalid for that option alone. */
type Spec = Record<string, { good: fc.Arbitrary<unknown>; bad: fc.Arbitrary<unknown> }>;

/**
 * Options read with `value ?? default` take `null` as "not set" (Queue, Worker, backoff,
 * durability, page), while add()'s own top-level options (attempts, delayMs, timeoutMs) and
 * autostart / fsync refuse it. This suite takes each as the library's documented choice.
 */
const nullOk = (a: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => a.filter((v) => v !== null);

/** A bad value for an option that is itself an object, broken at `suffix` inside it. */
class Nested {
  constructor(readonly value: unknown, readonly suffix: string) {}
}

/** A bad option object, and the option (path) its error must name. */
interface Broken {
  opts: Record<string, unknown>;
  option: string;
}

/**
 * Option objects for `spec`: `valid` has every option valid (or left out); `invalid` breaks
 * exactly one (a bad value, a bad value nested inside it, or an unknown key). Paths are
 * `base.key` (`key` when base is ''); an unknown key is `unknownBase.key`.
 */
function optionsFor(spec: Spec, base: string, unknownBase: string): { valid: fc.Arbitrary<Record<string, unknown>>; invalid: fc.Arbitrary<Broken> } {
  const keys = Object.keys(spec);
  const at = (rel: string) => (base ? `${base}.${rel}` : rel);
  const valid = fc.record(Object.fromEntries(keys.map((k) => [k, spec[k]!.good])), { requiredKeys: [] }) as fc.Arbitrary<Record<string, unknown>>;
  const invalid = fc.oneof(
    ...keys.map((k) => fc.tuple(valid, spec[k]!.bad).map(([o, bad]): Broken => (bad instanceof Nested
      ? { opts: { ...o, [k]: bad.value }, option: at(`${k}.${bad.suffix}`) }
      : { opts: { ...o, [k]: bad }, option: at(k) }))),
    fc.tuple(valid, fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !keys.includes(k) && k !== '__proto__'), anyValue)
      .map(([o, k, v]): Broken => ({ opts: { ...o, [k]: v }, option: unknownBase ? `${unknownBase}.${k}` : at(k) })),
  );
  return { valid, invalid };
}

/** good/bad for an option that is an object of `spec`. */
function nested(spec: Spec): { good: fc.Arbitrary<unknown>; bad: fc.Arbitrary<unknown> } {
  const o = optionsFor(spec, '', '');
  return { good: o.valid, bad: fc.oneof(notObject, o.invalid.map((x) => new Nested(x.opts, x.option))) };
}

const backoffSpec: Spec = {
  type: { good: fc.constantFrom('fixed', 'exponential'), bad: nullOk(fc.oneof(fc.string().filter((v) => v !== 'fixed' && v !== 'exponential'), notNumber.filter((v) => typeof v !== 'string'))) },
  delayMs: { good: int(0, MAX_DURATION_MS), bad: nullOk(badInt(0, MAX_DURATION_MS)) },
  maxDelayMs: { good: int(0, MAX_DURATION_MS), bad: nullOk(badInt(0, MAX_DURATION_MS)) },
  jitter: { good: fc.double({ min: 0, max: 1, noNaN: true }), bad: nullOk(fc.oneof(notNumber, fc.double({ min: 1.0000001, noNaN: true }), fc.double({ max: -0.0000001, noNaN: true }), fc.constant(NaN))) },
};
const backoff = nested(backoffSpec);

const goodJobId = fc.string({ minLength: 1, maxLength: 256, unit: 'grapheme' })
  .filter((v) => v.length <= 256 && !/^\d+$/.test(v) && !/[\x00-\x1f]/.test(v));
const jobSpec: Spec = {
  jobId: {
    good: goodJobId,
    bad: fc.oneof(fc.constant(''), fc.stringMatching(/^\d{1,20}$/), fc.string({ minLength: 257, maxLength: 300 }).filter((v) => v.length > 256),
      fc.tuple(fc.string(), fc.integer({ min: 0, max: 31 }), fc.string()).map(([a, c, b]) => a + String.fromCharCode(c) + b), notNumber.filter((v) => typeof v !== 'string'), fc.integer()),
  },
  delayMs: { good: int(0, MAX_DURATION_MS), bad: badInt(0, MAX_DURATION_MS) },
  attempts: { good: int(1, 1_000_000), bad: badInt(1, 1_000_000) },
  backoff,
  timeoutMs: { good: int(0, MAX_DURATION_MS), bad: badInt(0, MAX_DURATION_MS) },
};
const jobOptions = optionsFor(jobSpec, '', 'options');

// ---------- properties ----------

describe('options fuzz: invalid calls throw a KyooError naming the option and write nothing', () => {
  test('add(data, opts): valid options are accepted; one broken option is named; nothing written when invalid', async () => {
    const name = uniqueQueueName('fuzz-add');
    const queue = new Queue(name, { connection: url });
    try {
      await fc.assert(fc.asyncProperty(fc.oneof(
        jobOptions.valid.map((opts) => ({ opts, option: undefined as string | undefined })),
        jobOptions.invalid as fc.Arbitrary<{ opts: Record<string, unknown>; option: string | undefined }>,
      ), async ({ opts, option }) => {
        await wipe();
        const err = await outcome(() => queue.add({ n: 1 }, opts as never));
        if (option === undefined) {
          expect(err).toBeUndefined();
        } else {
          expectNamedKyooError(err, option);
          expect(await dbsize()).toBe(0);
        }
      }), { numRuns: RUNS });
      // anything at all as options: works or throws a KyooError
      await fc.assert(fc.asyncProperty(anyValue, anyValue, async (data, opts) => {
        await wipe();
        const err = await outcome(() => queue.add(data, opts as never));
        if (err !== undefined) {
          expectNamedKyooError(err);
          expect(await dbsize()).toBe(0);
        }
      }), { numRuns: RUNS });
    } finally {
      await queue.close();
      await wipe();
    }
  });

  test('add: runAt and delayMs together, bad runAt values, and oversized payloads are refused before anything is written', async () => {
    const queue = new Queue(uniqueQueueName('fuzz-runat'), { connection: url, maxPayloadBytes: 64 });
    try {
      await fc.assert(fc.asyncProperty(
        fc.oneof(
          fc.tuple(int(0, 1000), fc.oneof(fc.date({ noInvalidDate: true }), fc.integer())).map(([delayMs, runAt]) => ({ opts: { delayMs, runAt }, option: 'runAt' })),
          fc.oneof(fc.constant(new Date(NaN)), fc.constantFrom(NaN, Infinity, -Infinity), fc.string(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 1 }))
            .map((runAt) => ({ opts: { runAt }, option: 'runAt' })),
          fc.string({ minLength: 70, maxLength: 500 }).map((big) => ({ opts: { big }, option: 'payload' })),
        ),
        async ({ opts, option }) => {
          await wipe();
          const err = option === 'payload'
            ? await outcome(() => queue.add({ big: (opts as { big: string }).big }))
            : await outcome(() => queue.add({}, opts as never));
          if (option === 'payload') expect(err).toBeInstanceOf(PayloadTooLargeError);
          expectNamedKyooError(err, option === 'payload' ? undefined : option);
          expect(await dbsize()).toBe(0);
        },
      ), { numRuns: RUNS });
    } finally {
      await queue.close();
    }
  });

  test('addBulk: one invalid job anywhere rejects the whole call and nothing is written', async () => {
    const queue = new Queue(uniqueQueueName('fuzz-bulk'), { connection: url });
    try {
      await fc.assert(fc.asyncProperty(
        fc.array(jobOptions.valid.map((o) => { const { jobId: _drop, ...rest } = o; return { data: { ok: true }, opts: rest }; }), { maxLength: 20 }),
        fc.oneof(
          jobOptions.invalid.map((x) => ({ job: { data: 1, opts: x.opts } as unknown })),
          notObject.filter((v) => !Array.isArray(v)).map((job) => ({ job })),
        ),
        fc.nat(),
        async (good, { job }, at) => {
          await wipe();
          const jobs = [...good];
          jobs.splice(at % (good.length + 1), 0, job as never);
          expectNamedKyooError(await outcome(() => queue.addBulk(jobs as never)));
          expect(await dbsize()).toBe(0);
        },
      ), { numRuns: RUNS });
      // (sparse arrays have their own test below)
      await fc.assert(fc.asyncProperty(anyValue.filter((v) => !(Array.isArray(v) && Object.keys(v).length !== v.length)), async (jobs) => {
        await wipe();
        const err = await outcome(() => queue.addBulk(jobs as never));
        if (err !== undefined) {
          expectNamedKyooError(err);
          expect(await dbsize()).toBe(0);
        }
      }), { numRuns: RUNS });
    } finally {
      await queue.close();
      await wipe();
    }
  });

  test('addBulk: a sparse array ([, { data }]) is an InvalidOptionError naming the hole, not a TypeError', async () => {
    const queue = new Queue(uniqueQueueName('fuzz-bulk-hole'), { connection: url });
    try {
      await wipe();
      // eslint-disable-next-line no-sparse-arrays
      const err = await outcome(() => queue.addBulk([, { data: 1 }] as never));
      // packages/client/src/queue.ts addBulk(): jobs.map() skips holes, so the hole reaches
      // AddBatcher.call() as undefined and `j.id` throws TypeError
      expectNamedKyooError(err, 'jobs[0]');
      expect(await dbsize()).toBe(0);
    } finally {
      await queue.close();
    }
  });

  test('addBulk: a misspelt key in a job ({ data, opt }) is refused like every other unknown option', async () => {
    const queue = new Queue(uniqueQueueName('fuzz-bulk-typo'), { connection: url });
    try {
      await wipe();
      // add() refuses { attempt: 5 } (a typo of attempts); addBulk must refuse { opt: ... } likewise,
      // instead of silently adding a job with the default attempts
      const err = await outcome(() => queue.addBulk([{ data: 1, opt: { attempts: 5 } } as never]));
      expect(err, 'packages/client/src/queue.ts addBulk(): no checkKnownKeys on a bulk item').toBeInstanceOf(InvalidOptionError);
      expectNamedKyooError(err, 'jobs[0].opt');
      expect(await dbsize()).toBe(0);
    } finally {
      await queue.close();
      await wipe();
    }
  });

  test('new Queue(name, opts): valid options construct; one broken option is named; nothing written', async () => {
    const defaultJob = nested({
      attempts: { good: int(1, 1_000_000), bad: nullOk(badInt(1, 1_000_000)) },
      backoff,
      timeoutMs: { good: int(0, MAX_DURATION_MS), bad: nullOk(badInt(0, MAX_DURATION_MS)) },
    });
    const durability = nested({
      replicas: { good: int(0, 100), bad: nullOk(badInt(0, 100)) },
      fsync: { good: fc.boolean(), bad: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) },
      timeoutMs: { good: int(1, MAX_DURATION_MS), bad: nullOk(badInt(1, MAX_DURATION_MS)) },
    });
    const spec: Spec = {
      prefix: { good: goodName, bad: nullOk(badName) },
      maxPayloadBytes: { good: int(1, 512 * 1024 * 1024), bad: nullOk(badInt(1, 512 * 1024 * 1024)) },
      defaultJobOptions: defaultJob,
      durability,
      connection: { good: fc.constant(url), bad: fc.oneof(fc.string().filter((v) => !/^rediss?:\/\//.test(v)), fc.integer(), fc.boolean(), fc.constant(null)) },
    };
    const opts = optionsFor(spec, '', 'options');
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.tuple(goodName, opts.valid).map(([name, o]) => ({ name, o: { ...o, connection: url } as Record<string, unknown>, option: undefined as string | undefined })),
        fc.tuple(goodName, opts.invalid).map(([name, x]) => ({ name, o: { connection: url, ...x.opts }, option: x.option as string | undefined })),
        fc.tuple(badName, opts.valid).map(([name, o]) => ({ name: name as string, o: { ...o, connection: url }, option: 'queueName' as string | undefined })),
      ),
      async ({ name, o, option }) => {
        const err = await outcome(() => new Queue(name, o as never), (q) => q.close());
        if (option === undefined) expect(err).toBeUndefined();
        else expectNamedKyooError(err, option);
        expect(await dbsize()).toBe(0);
      },
    ), { numRuns: RUNS });
  });

  test('new Queue: a connection URL that does not parse is an InvalidOptionError, not a TypeError', async () => {
    for (const connection of ['redis://[', 'redis://h:notaport', 'redis://:@127.0.0.1:99999']) {
      const err = await outcome(() => new Queue(uniqueQueueName('fuzz-url'), { connection }), (q) => q.close());
      // packages/core/src/connection.ts connect(): `new Redis(option)` throws Node's TypeError: Invalid URL
      expectNamedKyooError(err, 'connection');
    }
    expect(await dbsize()).toBe(0);
  });

  test('new Worker(name, handler, opts): valid options construct; one broken option is named; nothing written', async () => {
    const spec: Spec = {
      prefix: { good: goodName, bad: nullOk(badName) },
      concurrency: { good: int(1, 10_000), bad: nullOk(badInt(1, 10_000)) },
      timeoutMs: { good: int(0, MAX_DURATION_MS), bad: nullOk(badInt(0, MAX_DURATION_MS)) },
      backoff: { good: fc.constant((n: number) => n * 10), bad: fc.oneof(notObject, fc.object({ maxDepth: 1 })) },
      closeGraceMs: { good: int(0, MAX_DURATION_MS), bad: nullOk(badInt(0, MAX_DURATION_MS)) },
      maxIdleMs: { good: int(10, 24 * 3600 * 1000), bad: nullOk(badInt(10, 24 * 3600 * 1000)) },
      autostart: { good: fc.constant(false), bad: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) },
      leaseMs: { good: int(100, MAX_DURATION_MS), bad: nullOk(badInt(100, MAX_DURATION_MS)) },
    };
    const opts = optionsFor(spec, '', 'options');
    const handler = async () => 'ok';
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        opts.valid.map((o) => ({ o, h: handler as unknown, option: undefined as string | undefined })),
        opts.invalid.map((x) => ({ o: x.opts, h: handler as unknown, option: x.option as string | undefined })),
        fc.tuple(opts.valid, fc.oneof(notObject, fc.object({ maxDepth: 1 }))).map(([o, h]) => ({ o, h, option: 'handler' as string | undefined })),
        // heartbeatMs must be below leaseMs
        fc.tuple(int(100, 100_000), fc.nat(1000)).map(([leaseMs, over]) => ({ o: { leaseMs, heartbeatMs: leaseMs + over }, h: handler as unknown, option: 'heartbeatMs' as string | undefined })),
      ),
      async ({ o, h, option }) => {
        const name = uniqueQueueName('fuzz-worker');
        const err = await outcome(() => new Worker(name, h as never, { autostart: false, ...o, connection: url } as never), (w) => w.close(0));
        if (option === undefined) expect(err).toBeUndefined();
        else expectNamedKyooError(err, option);
        expect(await dbsize()).toBe(0);
      },
    ), { numRuns: RUNS });
    // anything at all as options: constructs or throws a KyooError
    await fc.assert(fc.asyncProperty(anyValue.filter((v) => v !== undefined), async (o) => {
      const err = await outcome(() => new Worker(uniqueQueueName('fuzz-worker'), handler, (o && typeof o === 'object' && !Array.isArray(o) ? { ...o, autostart: false, connection: url } : o) as never), (w) => w.close(0));
      if (err !== undefined) expectNamedKyooError(err);
      expect(await dbsize()).toBe(0);
    }), { numRuns: RUNS });
  });

  test('queue.setPolicy(policy): a valid policy is read back; one broken field is named and nothing is written', async () => {
    const keep = nested({ count: { good: int(1, 100_000_000), bad: nullOk(badInt(1, 100_000_000)) }, ageMs: { good: int(0, 315_360_000_000), bad: nullOk(badInt(0, 315_360_000_000)) } });
    const policy = optionsFor({
      keepCompleted: { good: fc.oneof(fc.boolean(), keep.good), bad: keep.bad.filter((v) => typeof v !== 'boolean') },
      keepCancelled: { good: int(0, 100_000_000), bad: nullOk(badInt(0, 100_000_000)) },
      maxErrors: { good: int(1, 1000), bad: nullOk(badInt(1, 1000)) },
      maxWaiting: { good: int(0, 1_000_000_000), bad: nullOk(badInt(0, 1_000_000_000)) },
      priorityAgingMs: { good: int(1, 1_000_000_000), bad: nullOk(badInt(1, 1_000_000_000)) },
    }, 'policy', 'policy');
    const queue = new Queue(uniqueQueueName('fuzz-policy'), { connection: url });
    try {
      await fc.assert(fc.asyncProperty(
        fc.oneof(
          policy.valid.map((p) => ({ p: p as unknown, option: undefined as string | undefined })),
          policy.invalid.map((x) => ({ p: x.opts as unknown, option: x.option as string | undefined })),
        ),
        async ({ p, option }) => {
          const err = await outcome(() => queue.setPolicy(p as never), () => undefined);
          if (option !== undefined) {
            expectNamedKyooError(err, option);
            expect(await dbsize()).toBe(0);
            return;
          }
          expect(err).toBeUndefined();
          const read = await queue.getPolicy();
          const given = p as Record<string, unknown>;
          if (typeof given.maxErrors === 'number') expect(read.maxErrors).toBe(given.maxErrors);
          if (typeof given.maxWaiting === 'number') expect(read.maxWaiting).toBe(given.maxWaiting);
          if (given.keepCompleted === false) expect(read.keepCompletedCount).toBe(0);
          if (given.keepCompleted === true) expect(read.keepCompletedCount).toBe(1000);
          await wipe();
        },
      ), { numRuns: RUNS });
    } finally {
      await queue.close();
      await wipe();
    }
  });

  test('dead.list(page): valid pages list, invalid ones are named; nothing written', async () => {
    const queue = new Queue(uniqueQueueName('fuzz-dead'), { connection: url });
    const page = optionsFor({
      offset: { good: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)), bad: nullOk(badInt(0, Number.MAX_SAFE_INTEGER)) },
      limit: { good: int(1, 1000), bad: nullOk(badInt(1, 1000)) },
    }, 'page', 'page');
    try {
      await fc.assert(fc.asyncProperty(
        fc.oneof(
          page.valid.map((p) => ({ p: p as unknown, option: undefined as string | undefined })),
          page.invalid.map((x) => ({ p: x.opts as unknown, option: x.option as string | undefined })),
          notObject.filter((v) => v !== undefined).map((p) => ({ p, option: 'page' as string | undefined })),
        ),
        async ({ p, option }) => {
          const err = await outcome(() => queue.dead.list(p as never), (list) => expect(list).toEqual([]));
          if (option === undefined) expect(err).toBeUndefined();
          else expectNamedKyooError(err, option);
          expect(await dbsize()).toBe(0);
        },
      ), { numRuns: RUNS });
    } finally {
      await queue.close();
    }
  });
});

// ---------- payload round trip ----------

/** True when `v` holds an object key `__proto__` anywhere (see the dedicated test below). */
function hasProtoKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasProtoKey);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    return Object.keys(v).some((k) => k === '__proto__' || hasProtoKey((v as Record<string, unknown>)[k]));
  }
  return false;
}
/** `v` with every null-prototype object given Object.prototype (what the codec gives back for them). */
function withPlainPrototypes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withPlainPrototypes);
  if (v instanceof Set) return new Set([...v].map(withPlainPrototypes));
  if (v && typeof v === 'object' && (Object.getPrototypeOf(v) === null || Object.getPrototypeOf(v) === Object.prototype)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withPlainPrototypes(x)]));
  }
  return v;
}
/** True when `v` holds -0 anywhere (msgpack writes it as the integer 0, as JSON does). */
function hasNegativeZero(v: unknown): boolean {
  if (Object.is(v, -0)) return true;
  if (Array.isArray(v)) return v.some(hasNegativeZero);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.values(v).some(hasNegativeZero);
  return false;
}

const payload = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'grapheme-composite', maxLength: 50 }),
  fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 10 }), fc.jsonValue({ maxDepth: 3 })),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.record({ id: fc.uuid(), blob: fc.uint8Array({ maxLength: 50 }).map((a) => Buffer.from(a)), tags: fc.array(fc.string({ unit: 'grapheme' })), nested: fc.jsonValue({ maxDepth: 4 }) }),
).filter((v) => !hasProtoKey(v) && !hasNegativeZero(v));

describe('payload fuzz: data round-trips exactly', () => {
  test('add -> getJob and add -> worker handler give back deep-equal data', async () => {
    const name = uniqueQueueName('fuzz-payload');
    const queue = new Queue(name, { connection: url });
    const seen = new Map<string, (data: unknown) => void>();
    const worker = new Worker(name, async (job) => {
      seen.get(job.id)?.(job.data);
    }, { connection: url, concurrency: 4 });
    try {
      await queue.pause(); // so getJob sees the job before the worker takes it
      await fc.assert(fc.asyncProperty(payload, async (data) => {
        const id = await queue.add(data);
        const snapshot = await queue.getJob(id);
        expect(snapshot?.decodeError).toBeUndefined();
        expect(snapshot?.data).toEqual(data);
        const handled = new Promise<unknown>((resolve) => seen.set(id, resolve));
        await queue.resume();
        const got = await handled;
        await queue.pause();
        seen.delete(id);
        expect(got).toEqual(data);
      }), { numRuns: 150 });
    } finally {
      await worker.close(0);
      await queue.close();
      await wipe();
    }
  });

  test('any value at all is either kept exactly (BigInts, undefined, Sets, Dates, typed arrays) or refused, never changed', async () => {
    const name = uniqueQueueName('fuzz-exact');
    const queue = new Queue(name, { connection: url });
    const anything = fc.anything({
      withBigInt: true, withDate: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true,
      withBoxedValues: true, withMap: true, withSet: true, withObjectString: true, maxDepth: 3,
    });
    let kept = 0;
    let refused = 0;
    try {
      await fc.assert(fc.asyncProperty(fc.oneof(anything, fc.bigInt(), fc.double()), async (data) => {
        const id = await queue.add(data).catch((err: unknown) => {
          expect(err).toBeInstanceOf(InvalidOptionError);
          expect((err as InvalidOptionError).option).toBe('data');
          return null;
        });
        if (id === null) {
          refused++;
          expect(await dbsize()).toBe(0);
          return;
        }
        kept++;
        const snapshot = await queue.getJob(id);
        expect(snapshot?.decodeError).toBeUndefined();
        // documented: an Object.create(null) object comes back as an ordinary one with the same keys
        expect(isDeepStrictEqual(snapshot?.data, withPlainPrototypes(data)), `${id}`).toBe(true);
        await wipe();
      }), { numRuns: 300 });
      // both outcomes were exercised
      expect(kept).toBeGreaterThan(30);
      expect(refused).toBeGreaterThan(30);
    } finally {
      await queue.close();
      await wipe();
    }
  });

  test('an object key "__proto__" (as JSON.parse makes from a request body) is refused at add(), not silently renamed', async () => {
    const name = uniqueQueueName('fuzz-proto');
    const queue = new Queue(name, { connection: url });
    try {
      // msgpack decoders rename the key on decode (a prototype-pollution guard), which would hand
      // the handler other data than was added: add() refuses it instead, and writes nothing
      const data = JSON.parse('{"user":"ada","nested":[{"__proto__":{"isAdmin":true}}]}');
      const err = await queue.add(data).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect(err).toMatchObject({ option: 'data' });
      expect(await dbsize()).toBe(0);
      // the same text as a value is fine
      const id = await queue.add({ note: '__proto__' });
      expect((await queue.getJob(id))?.data).toEqual({ note: '__proto__' });
    } finally {
      await queue.close();
      await wipe();
    }
  });
});
