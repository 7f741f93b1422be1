// Unit tests of job option validation and encoding: a queue's defaultJobOptions
// (resolveDefaults) and each add's options (prepareJob). test/behaviour/validation.test.ts
// shows that a refused add writes nothing to Redis.
import { JOB_DEFAULTS, MAX_DURATION_MS, PayloadTooLargeError, decodeData, decodeRecord, encodeData } from '@kyoo/core';
import { describe, expect, it } from 'vitest';
import { MAX_PRIORITY, prepareJob, resolveDefaults, type ResolvedDefaults } from './job-options.js';
import { invalidOption } from '../../../test/support/invalid-option.js';

const DEFAULTS = resolveDefaults(undefined);
const LIMIT = JOB_DEFAULTS.maxPayloadBytes;
const prepare = (opts: unknown, defaults: ResolvedDefaults = DEFAULTS, data: unknown = { ok: true }) => prepareJob(data, opts, defaults, LIMIT);

const invalid = (fn: () => unknown, option: string): string => invalidOption(fn, option).message;

describe('resolveDefaults', () => {
  it('is the library defaults when a queue sets none: 3 attempts, exponential 1 s backoff with 0.2 jitter, no timeout', () => {
    expect(DEFAULTS).toEqual({ attempts: 3, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 0, jitter: 0.2 }, timeoutMs: 0 });
    expect(resolveDefaults({})).toEqual(DEFAULTS);
  });

  it('takes attempts, backoff and timeoutMs, each over the library default', () => {
    expect(resolveDefaults({ attempts: 1, backoff: { type: 'fixed' }, timeoutMs: 5000 })).toEqual({
      attempts: 1, backoff: { type: 'fixed', delayMs: 1000, maxDelayMs: 0, jitter: 0.2 }, timeoutMs: 5000,
    });
    expect(resolveDefaults({ attempts: 1_000_000 }).attempts).toBe(1_000_000);
  });

  it.each([
    [{ delayMs: 10 }, 'defaultJobOptions.delayMs'],
    [{ jobId: 'x' }, 'defaultJobOptions.jobId'],
    [{ attempts: 0 }, 'defaultJobOptions.attempts'],
    [{ attempts: 1_000_001 }, 'defaultJobOptions.attempts'],
    [{ backoff: { jitter: 2 } }, 'defaultJobOptions.backoff.jitter'],
    [{ timeoutMs: -1 }, 'defaultJobOptions.timeoutMs'],
    ['fast', 'defaultJobOptions'],
  ])('refuses %j naming %s', (value, option) => {
    invalid(() => resolveDefaults(value), option);
  });
});

describe('prepareJob', () => {
  it('without options: a generated id, due now, no priority or dedup, the defaults in its record', () => {
    const before = Date.now();
    const job = prepare(undefined, DEFAULTS, { hello: 'world' });
    expect(job).toMatchObject({ id: '', delayMs: 0, priority: 0, dedupKey: '', dedupMode: 0, dedupMs: 0 });
    const rec = decodeRecord(job.record);
    expect(rec).toMatchObject({ attempts: 3, backoffType: 'exponential', backoffMs: 1000, backoffMaxMs: 0, jitter: 0.2, timeoutMs: 0, priority: 0, dedupKey: '', dedupMode: 0 });
    expect(rec.createdAt).toBeGreaterThanOrEqual(before);
    expect(rec.createdAt).toBeLessThanOrEqual(Date.now());
    expect(decodeData(rec.payload)).toEqual({ hello: 'world' });
  });

  it('a job\'s backoff is laid over the queue\'s default backoff, field by field', () => {
    const defaults = resolveDefaults({ attempts: 7, backoff: { type: 'fixed', delayMs: 50, jitter: 0 }, timeoutMs: 900 });
    expect(decodeRecord(prepare({}, defaults).record)).toMatchObject({ attempts: 7, backoffType: 'fixed', backoffMs: 50, jitter: 0, timeoutMs: 900 });
    expect(decodeRecord(prepare({ backoff: { delayMs: 70 }, attempts: 2, timeoutMs: 0 }, defaults).record)).toMatchObject({
      attempts: 2, backoffType: 'fixed', backoffMs: 70, jitter: 0, timeoutMs: 0,
    });
  });

  describe('jobId', () => {
    it('takes 1 to 256 characters that are not all digits', () => {
      for (const id of ['a', 'order-1', '12a', 'j'.repeat(256), 'ünïcode ✓']) expect(prepare({ jobId: id }).id).toBe(id);
    });

    it.each([
      ['empty', ''],
      ['all digits (generated ids are)', '12345'],
      ['257 characters', 'j'.repeat(257)],
      ['a newline', 'a\nb'],
      ['a NUL', 'a\u0000'],
      ['a number', 42],
    ])('refuses one that is %s', (_what, jobId) => {
      expect(invalid(() => prepare({ jobId }), 'jobId')).toBe(
        'invalid jobId: expected a string of 1-256 characters, not all digits (digit-only ids are generated) and without control characters',
      );
    });
  });

  describe('delayMs and runAt', () => {
    it('delayMs: 0 to about 10 years', () => {
      expect(prepare({ delayMs: 0 }).delayMs).toBe(0);
      expect(prepare({ delayMs: MAX_DURATION_MS }).delayMs).toBe(MAX_DURATION_MS);
      expect(invalid(() => prepare({ delayMs: MAX_DURATION_MS + 1 }), 'delayMs')).toBe(
        `invalid delayMs: expected an integer from 0 to ${MAX_DURATION_MS}, got ${MAX_DURATION_MS + 1}`,
      );
      invalid(() => prepare({ delayMs: -1 }), 'delayMs');
    });

    it('runAt: a Date or ms since epoch becomes a delay from now; a time in the past runs now', () => {
      const d = prepare({ runAt: new Date(Date.now() + 60_000) }).delayMs;
      expect(d).toBeGreaterThan(59_000);
      expect(d).toBeLessThanOrEqual(60_000);
      expect(prepare({ runAt: Date.now() + 5000 }).delayMs).toBeLessThanOrEqual(5000);
      expect(prepare({ runAt: 0 }).delayMs).toBe(0);
      expect(prepare({ runAt: new Date(Date.now() - 60_000) }).delayMs).toBe(0);
    });

    it('runAt: refused past about 10 years ahead (as delayMs), when not a time, and together with delayMs', () => {
      expect(invalid(() => prepare({ runAt: Date.now() + MAX_DURATION_MS + 60_000 }), 'runAt')).toMatch(/at most 315360000000 ms \(about 10 years\) ahead, like delayMs; got \d+ ms ahead$/);
      invalid(() => prepare({ runAt: new Date('nope') }), 'runAt');
      invalid(() => prepare({ runAt: 'tomorrow' }), 'runAt');
      expect(invalid(() => prepare({ delayMs: 1, runAt: Date.now() }), 'runAt')).toBe('invalid runAt: give either delayMs or runAt, not both');
    });
  });

  it('attempts, timeoutMs and priority have their bounds', () => {
    expect(decodeRecord(prepare({ attempts: 1 }).record).attempts).toBe(1);
    expect(decodeRecord(prepare({ attempts: 1_000_000 }).record).attempts).toBe(1_000_000);
    invalid(() => prepare({ attempts: 0 }), 'attempts');
    invalid(() => prepare({ attempts: 1_000_001 }), 'attempts');
    expect(decodeRecord(prepare({ timeoutMs: MAX_DURATION_MS }).record).timeoutMs).toBe(MAX_DURATION_MS);
    invalid(() => prepare({ timeoutMs: -1 }), 'timeoutMs');
    expect(MAX_PRIORITY).toBe(1000);
    for (const p of [-1000, -1, 1, 1000]) {
      const job = prepare({ priority: p });
      expect(job.priority).toBe(p);
      expect(decodeRecord(job.record).priority).toBe(p);
    }
    expect(invalid(() => prepare({ priority: 1001 }), 'priority')).toBe('invalid priority: expected an integer from -1000 to 1000, got 1001');
    invalid(() => prepare({ priority: -1001 }), 'priority');
  });

  describe('dedup', () => {
    it('modes: until-complete (the default, 1), window (2), debounce (3); ttlMs is 0 (none) by default for until-complete only', () => {
      expect(prepare({ dedup: { key: 'k' } })).toMatchObject({ dedupKey: 'k', dedupMode: 1, dedupMs: 0 });
      expect(prepare({ dedup: { key: 'k', mode: 'until-complete', ttlMs: 500 } })).toMatchObject({ dedupMode: 1, dedupMs: 500 });
      expect(prepare({ dedup: { key: 'k', mode: 'window', ttlMs: 1 } })).toMatchObject({ dedupMode: 2, dedupMs: 1 });
      expect(prepare({ dedup: { key: 'k', mode: 'debounce', ttlMs: 300 } })).toMatchObject({ dedupMode: 3, dedupMs: 300 });
      expect(decodeRecord(prepare({ dedup: { key: 'inv:9', mode: 'window', ttlMs: 5 } }).record)).toMatchObject({ dedupKey: 'inv:9', dedupMode: 2 });
    });

    it('refuses a window or debounce without ttlMs, a key that is empty or over 512 characters, an unknown mode or key', () => {
      expect(invalid(() => prepare({ dedup: { key: 'k', mode: 'window' } }), 'dedup.ttlMs')).toBe(`invalid dedup.ttlMs: expected an integer from 1 to ${MAX_DURATION_MS}, got undefined`);
      invalid(() => prepare({ dedup: { key: 'k', mode: 'debounce', ttlMs: 0 } }), 'dedup.ttlMs');
      expect(prepare({ dedup: { key: 'k'.repeat(512) } }).dedupKey).toHaveLength(512);
      expect(invalid(() => prepare({ dedup: { key: 'k'.repeat(513) } }), 'dedup.key')).toBe('invalid dedup.key: expected a string of 1-512 characters without control characters');
      invalid(() => prepare({ dedup: { key: '' } }), 'dedup.key');
      invalid(() => prepare({ dedup: { key: 'a\u0000b' } }), 'dedup.key'); // keys travel \0-separated to the ack script
      invalid(() => prepare({ dedup: {} }), 'dedup.key');
      expect(invalid(() => prepare({ dedup: { key: 'k', mode: 'forever' } }), 'dedup.mode')).toBe(`invalid dedup.mode: expected 'until-complete', 'window' or 'debounce', got "forever"`);
      invalid(() => prepare({ dedup: { key: 'k', mode: 'toString' } }), 'dedup.mode'); // not a key of the object's prototype either
      invalid(() => prepare({ dedup: { key: 'k', ttl: 5 } }), 'dedup.ttl');
      invalid(() => prepare({ dedup: 'k' }), 'dedup');
    });
  });

  it('refuses unknown options and options that are not an object', () => {
    expect(invalid(() => prepare({ attempt: 3 }), 'options.attempt')).toBe(
      'invalid options.attempt: unknown option; expected one of jobId, delayMs, runAt, attempts, backoff, timeoutMs, priority, dedup, group',
    );
    for (const bad of [null, 'urgent', 3, []]) invalid(() => prepare(bad), 'options');
  });

  it('refuses data that would not come back the same, naming it data', () => {
    expect(invalid(() => prepare({}, DEFAULTS, { m: new Map() }), 'data')).toMatch(/^invalid data: m is a Map/);
  });

  it('takes a payload of exactly maxPayloadBytes and refuses one byte more with PayloadTooLargeError', () => {
    const data = 'x'.repeat(100);
    const size = encodeData('data', data).length;
    expect(size).toBe(102); // str8: a type byte, a length byte, the bytes
    expect(() => prepareJob(data, {}, DEFAULTS, size)).not.toThrow();
    let err: unknown;
    try {
      prepareJob(data, {}, DEFAULTS, size - 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', sizeBytes: 102, limitBytes: 101 });
    expect((err as Error).message).toContain('raise maxPayloadBytes');
  });

  it('takes a group key as it is, into the record; refuses a bad one and a priority beside it', () => {
    const job = prepareJob({}, { group: 'tenant:Zoë 🚀' }, DEFAULTS, LIMIT);
    expect(job.group).toBe('tenant:Zoë 🚀');
    expect(decodeRecord(job.record)).toMatchObject({ version: 5, group: 'tenant:Zoë 🚀' });
    expect(prepareJob({}, {}, DEFAULTS, LIMIT).group).toBe('');
    for (const bad of ['', 'a\u0000', 'tab\t', 'x'.repeat(257), '\uDC00', 42, null]) invalid(() => prepareJob({}, { group: bad }, DEFAULTS, LIMIT), 'group');
    expect(() => prepareJob({}, { group: 'x'.repeat(256) }, DEFAULTS, LIMIT)).not.toThrow();
    invalid(() => prepareJob({}, { group: 'g', priority: 1 }, DEFAULTS, LIMIT), 'priority');
  });

  it('validates the options before it encodes the data', () => {
    // a bad option is reported even when the data would be refused too
    invalid(() => prepareJob({ m: new Map() }, { attempts: 0 }, DEFAULTS, LIMIT), 'attempts');
  });
});
