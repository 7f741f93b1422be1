// Unit tests of the option checks shared by every package, and of the backoff formula
// (its Lua twin is compared on a real server in test/behaviour/backoff-formula.test.ts).
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { JOB_DEFAULTS, MAX_DURATION_MS, backoffDelay, checkId, checkInt, checkKnownKeys, checkNumber, checkObject, resolveBackoff, type ResolvedBackoff } from './options.js';
import { invalidOption } from '../../../test/support/invalid-option.js';

/** What `fn` threw, which must be an InvalidOptionError naming `option` in its field and its message. */
const invalid = (fn: () => unknown, option: string): InvalidOptionError => invalidOption(fn, option) as InvalidOptionError;

describe('checkInt / checkNumber', () => {
  it('accept both bounds and refuse one past each', () => {
    expect(checkInt('n', 1, 1, 10)).toBe(1);
    expect(checkInt('n', 10, 1, 10)).toBe(10);
    expect(invalid(() => checkInt('n', 0, 1, 10), 'n').message).toBe('invalid n: expected an integer from 1 to 10, got 0');
    expect(invalid(() => checkInt('n', 11, 1, 10), 'n').message).toBe('invalid n: expected an integer from 1 to 10, got 11');
    expect(checkNumber('x', 0.5, 0, 1)).toBe(0.5);
    expect(checkNumber('x', 1, 0, 1)).toBe(1);
    expect(invalid(() => checkNumber('x', 1.0001, 0, 1), 'x').message).toBe('invalid x: expected a number from 0 to 1, got 1.0001');
  });

  it.each([
    ['a float', 1.5, '1.5'],
    ['NaN', Number.NaN, 'NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'Infinity'],
    ['a numeric string', '3', '"3"'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['an object', { n: 1 }, 'object'],
  ])('checkInt refuses %s and shows what it got', (_what, value, shown) => {
    expect(invalid(() => checkInt('opt', value, 0, 100), 'opt').message).toBe(`invalid opt: expected an integer from 0 to 100, got ${shown}`);
  });

  it('checkNumber refuses what is not a finite number, and takes floats', () => {
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY, '0.5', null]) invalid(() => checkNumber('j', bad, 0, 1), 'j');
    expect(checkNumber('j', 0.25, 0, 1)).toBe(0.25);
  });

  it('shows at most 40 characters of a string it refuses', () => {
    const message = invalid(() => checkInt('n', 'x'.repeat(100), 0, 1), 'n').message;
    expect(message).toBe(`invalid n: expected an integer from 0 to 1, got "${'x'.repeat(40)}"`);
  });
});

describe('checkObject / checkKnownKeys / checkId', () => {
  it('checkObject takes undefined as {} and refuses null, arrays and primitives', () => {
    expect(checkObject('o', undefined)).toEqual({});
    const o = { a: 1 };
    expect(checkObject('o', o)).toBe(o);
    for (const bad of [null, [], 'x', 5, true]) {
      expect(invalid(() => checkObject('o', bad), 'o').message).toMatch(/^invalid o: expected an object, got /);
    }
  });

  it('checkKnownKeys names the unknown key and lists the known ones', () => {
    expect(() => checkKnownKeys('options', { a: 1, b: 2 }, ['a', 'b', 'c'])).not.toThrow();
    const err = invalid(() => checkKnownKeys('options', { a: 1, attempt: 3 }, ['a', 'attempts']), 'options.attempt');
    expect(err.message).toBe('invalid options.attempt: unknown option; expected one of a, attempts');
  });

  it('checkId takes a non-empty string only', () => {
    expect(() => checkId('id', 'x')).not.toThrow();
    expect(invalid(() => checkId('id', ''), 'id').message).toBe('invalid id: expected a job id (a non-empty string), got an empty string');
    expect(invalid(() => checkId('id', 42), 'id').message).toBe('invalid id: expected a job id (a non-empty string), got 42');
    invalid(() => checkId('id', null), 'id');
  });
});

describe('resolveBackoff', () => {
  it('fills in the library defaults: exponential, 1 s, no cap, jitter 0.2', () => {
    expect(resolveBackoff('backoff', undefined)).toEqual({ type: 'exponential', delayMs: 1000, maxDelayMs: 0, jitter: 0.2 });
    expect(JOB_DEFAULTS.backoff).toEqual({ type: 'exponential', delayMs: 1000, maxDelayMs: 0, jitter: 0.2 });
    expect(Object.isFrozen(JOB_DEFAULTS) && Object.isFrozen(JOB_DEFAULTS.backoff)).toBe(true);
  });

  it('fills in what is left out from the base it is given (a queue\'s defaults), not from the library\'s', () => {
    const base: ResolvedBackoff = { type: 'fixed', delayMs: 50, maxDelayMs: 500, jitter: 0 };
    expect(resolveBackoff('backoff', { delayMs: 70 }, base)).toEqual({ type: 'fixed', delayMs: 70, maxDelayMs: 500, jitter: 0 });
    expect(resolveBackoff('backoff', {}, base)).toEqual(base);
  });

  it('accepts the bounds: delays from 0 to about 10 years, jitter from 0 to 1', () => {
    expect(resolveBackoff('b', { delayMs: 0, maxDelayMs: MAX_DURATION_MS, jitter: 1 })).toMatchObject({ delayMs: 0, maxDelayMs: MAX_DURATION_MS, jitter: 1 });
    expect(resolveBackoff('b', { delayMs: MAX_DURATION_MS, jitter: 0 })).toMatchObject({ delayMs: MAX_DURATION_MS, jitter: 0 });
    expect(MAX_DURATION_MS).toBe(315_360_000_000);
  });

  it.each([
    [{ type: 'linear' }, 'b.type', "invalid b.type: expected 'fixed' or 'exponential', got \"linear\""],
    [{ delayMs: -1 }, 'b.delayMs', 'invalid b.delayMs: expected an integer from 0 to 315360000000, got -1'],
    [{ delayMs: MAX_DURATION_MS + 1 }, 'b.delayMs', `invalid b.delayMs: expected an integer from 0 to 315360000000, got ${MAX_DURATION_MS + 1}`],
    [{ maxDelayMs: 1.5 }, 'b.maxDelayMs', 'invalid b.maxDelayMs: expected an integer from 0 to 315360000000, got 1.5'],
    [{ jitter: -0.1 }, 'b.jitter', 'invalid b.jitter: expected a number from 0 to 1, got -0.1'],
    [{ jitter: 1.1 }, 'b.jitter', 'invalid b.jitter: expected a number from 0 to 1, got 1.1'],
    [{ factor: 2 }, 'b.factor', 'invalid b.factor: unknown option; expected one of type, delayMs, maxDelayMs, jitter'],
    ['fixed', 'b', 'invalid b: expected an object, got "fixed"'],
  ])('refuses %j naming %s', (value, option, message) => {
    expect(invalid(() => resolveBackoff('b', value), option).message).toBe(message);
  });
});

describe('backoffDelay', () => {
  const b = (over: Partial<ResolvedBackoff>): ResolvedBackoff => ({ type: 'fixed', delayMs: 100, maxDelayMs: 0, jitter: 0, ...over });

  it('fixed: the same wait before every retry', () => {
    expect([1, 2, 3, 10].map((n) => backoffDelay(b({}), n))).toEqual([100, 100, 100, 100]);
  });

  it('exponential: delayMs x 2^(attempt-1), attempt 1 being the wait after the first failure', () => {
    expect([1, 2, 3, 4, 11].map((n) => backoffDelay(b({ type: 'exponential' }), n))).toEqual([100, 200, 400, 800, 102_400]);
  });

  it('caps one wait at maxDelayMs (0 = no cap), for both types', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(b({ type: 'exponential', maxDelayMs: 300 }), n))).toEqual([100, 200, 300, 300]);
    expect(backoffDelay(b({ delayMs: 500, maxDelayMs: 300 }), 1)).toBe(300);
    expect(backoffDelay(b({ type: 'exponential', maxDelayMs: 0 }), 30)).toBe(100 * 2 ** 29);
  });

  it('jitter takes off up to that fraction of the capped wait, by the random draw, and rounds down', () => {
    const j = b({ type: 'exponential', delayMs: 1000, maxDelayMs: 3000, jitter: 0.5 });
    expect(backoffDelay(j, 1, () => 0)).toBe(1000);
    expect(backoffDelay(j, 1, () => 0.5)).toBe(750);
    expect(backoffDelay(j, 1, () => 0.999)).toBe(500); // 1000 x (1 - 0.4995) = 500.5
    expect(backoffDelay(j, 3, () => 0.5)).toBe(2250); // capped at 3000 first, then jittered
    expect(backoffDelay(b({ delayMs: 101, jitter: 0.1 }), 1, () => 0.5)).toBe(95); // 101 x 0.95 = 95.95
  });

  it('draws no random number without jitter, and uses Math.random by default', () => {
    let draws = 0;
    expect(backoffDelay(b({}), 1, () => {
      draws++;
      return 0.5;
    })).toBe(100);
    expect(draws).toBe(0);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(b({ delayMs: 1000, jitter: 1 }), 1);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });

  it('a delay of 0 stays 0 (retry at once)', () => {
    expect(backoffDelay(b({ delayMs: 0, type: 'exponential', jitter: 0.5 }), 5, () => 0.3)).toBe(0);
  });
});
