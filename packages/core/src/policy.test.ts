// Unit tests of the queue policy: what setPolicy() writes to `meta` (policyFields), and how a
// policy is read back with defaults (readPolicy). Bounds and defaults come from policy.json,
// which the Lua side reads too.
import { describe, expect, it } from 'vitest';
import { POLICY_META_FIELDS, policyFields, readPolicy } from './policy.js';
import { invalidOption } from '../../../test/support/invalid-option.js';

const invalid = (policy: unknown, option: string): string => invalidOption(() => policyFields(policy), option).message;

describe('policyFields', () => {
  it('writes only the fields given (an empty policy writes nothing)', () => {
    expect(policyFields({})).toEqual([]);
    expect(policyFields(undefined)).toEqual([]);
    expect(policyFields({ maxWaiting: 5 })).toEqual([{ field: 'max_waiting', value: 5 }]);
  });

  it('keepCompleted: true keeps the last 1,000 with no age limit; false keeps none', () => {
    expect(policyFields({ keepCompleted: true })).toEqual([{ field: 'keep_count', value: 1000 }, { field: 'keep_age_ms', value: 0 }]);
    expect(policyFields({ keepCompleted: false })).toEqual([{ field: 'keep_count', value: 0 }, { field: 'keep_age_ms', value: 0 }]);
  });

  it('keepCompleted as an object: count defaults to 1,000 and ageMs to 0 (no limit)', () => {
    expect(policyFields({ keepCompleted: {} })).toEqual([{ field: 'keep_count', value: 1000 }, { field: 'keep_age_ms', value: 0 }]);
    expect(policyFields({ keepCompleted: { count: 1, ageMs: 86_400_000 } })).toEqual([{ field: 'keep_count', value: 1 }, { field: 'keep_age_ms', value: 86_400_000 }]);
  });

  it('writes every field at once, under its meta name', () => {
    expect(policyFields({ keepCompleted: { count: 10 }, keepCancelled: 0, maxErrors: 1000, maxWaiting: 0, priorityAgingMs: 1 })).toEqual([
      { field: 'keep_count', value: 10 },
      { field: 'keep_age_ms', value: 0 },
      { field: 'keep_cancelled', value: 0 },
      { field: 'max_errors', value: 1000 },
      { field: 'max_waiting', value: 0 },
      { field: 'aging_ms', value: 1 },
    ]);
  });

  it.each([
    ['maxErrors', 1, 1000],
    ['maxWaiting', 0, 1_000_000_000],
    ['priorityAgingMs', 1, 1_000_000_000],
    ['keepCancelled', 0, 100_000_000],
    ['eventsMaxLen', 0, 100_000_000],
  ] as const)('%s: accepts %d to %d, refuses one past either end, naming policy.%s', (option, min, max) => {
    expect(policyFields({ [option]: min })).toHaveLength(1);
    expect(policyFields({ [option]: max })).toHaveLength(1);
    expect(invalid({ [option]: min - 1 }, `policy.${option}`)).toBe(`invalid policy.${option}: expected an integer from ${min} to ${max}, got ${min - 1}`);
    expect(invalid({ [option]: max + 1 }, `policy.${option}`)).toBe(`invalid policy.${option}: expected an integer from ${min} to ${max}, got ${max + 1}`);
    invalid({ [option]: 1.5 }, `policy.${option}`);
    invalid({ [option]: '5' }, `policy.${option}`);
  });

  it('keepCompleted.count 0 is refused, pointing at keepCompleted: false', () => {
    expect(invalid({ keepCompleted: { count: 0 } }, 'policy.keepCompleted.count')).toBe(
      'invalid policy.keepCompleted.count: expected at least 1 (use keepCompleted: false to keep none)',
    );
  });

  it.each([
    ['a policy that is not an object', 'keep', 'policy'],
    ['an unknown key', { keepCompletedCount: 1 }, 'policy.keepCompletedCount'],
    ['keepCompleted of the wrong type', { keepCompleted: 'yes' }, 'policy.keepCompleted'],
    ['keepCompleted null', { keepCompleted: null }, 'policy.keepCompleted'],
    ['an unknown keepCompleted key', { keepCompleted: { max: 1 } }, 'policy.keepCompleted.max'],
    ['a count over the limit', { keepCompleted: { count: 100_000_001 } }, 'policy.keepCompleted.count'],
    ['a negative ageMs', { keepCompleted: { ageMs: -1 } }, 'policy.keepCompleted.ageMs'],
  ])('refuses %s, naming %s', (_what, policy, option) => {
    const message = invalid(policy, option);
    expect(message.startsWith(`invalid ${option}: `)).toBe(true);
  });
});

describe('readPolicy', () => {
  it('reads the meta fields in POLICY_META_FIELDS order, unset ones as the defaults', () => {
    expect(POLICY_META_FIELDS).toEqual(['keep_count', 'keep_age_ms', 'keep_cancelled', 'max_errors', 'max_waiting', 'aging_ms', 'events_max',
      'max_running', 'rate_max', 'rate_ms', 'group_concurrency', 'group_rate_max', 'group_rate_ms', 'group_order']);
    const defaults = { keepCompletedCount: 0, keepCompletedAgeMs: 0, keepCancelledCount: 1000, maxErrors: 10, maxWaiting: 0, priorityAgingMs: 60_000, eventsMaxLen: 10_000,
      maxRunning: 0, rateMax: 0, rateMs: 1000, groupConcurrency: 1, groupRateMax: 0, groupRateMs: 1000, groupOrder: 0 };
    expect(readPolicy([null, null, null, null, null, null])).toEqual(defaults);
    expect(readPolicy([])).toEqual(defaults);
    expect(readPolicy(['5', '', null, '3', '250', '100'])).toEqual({ ...defaults, keepCompletedCount: 5, maxErrors: 3, maxWaiting: 250, priorityAgingMs: 100 });
  });

  it('reads back what policyFields writes', () => {
    const fields = policyFields({
      keepCompleted: { count: 7, ageMs: 9 }, keepCancelled: 2, maxErrors: 4, maxWaiting: 11, priorityAgingMs: 13, eventsMaxLen: 0,
      maxRunning: 5, rateLimit: { max: 100, intervalMs: 1000 }, groups: { concurrency: 0, rateLimit: { max: 3, intervalMs: 60_000 }, order: 'relaxed' },
    });
    const meta = new Map(fields.map((f) => [f.field, String(f.value)]));
    expect(readPolicy(POLICY_META_FIELDS.map((f) => meta.get(f) ?? null))).toEqual({
      keepCompletedCount: 7, keepCompletedAgeMs: 9, keepCancelledCount: 2, maxErrors: 4, maxWaiting: 11, priorityAgingMs: 13, eventsMaxLen: 0,
      maxRunning: 5, rateMax: 100, rateMs: 1000, groupConcurrency: 0, groupRateMax: 3, groupRateMs: 60_000, groupOrder: 1,
    });
  });

  it('rateLimit: false clears a limit; strict order is 0', () => {
    expect(policyFields({ rateLimit: false, groups: { rateLimit: false, order: 'strict' } })).toEqual([
      { field: 'rate_max', value: 0 }, { field: 'rate_ms', value: 1000 },
      { field: 'group_rate_max', value: 0 }, { field: 'group_rate_ms', value: 1000 }, { field: 'group_order', value: 0 },
    ]);
  });

  it.each([
    ['maxRunning over the limit', { maxRunning: 1_000_001 }, 'policy.maxRunning'],
    ['a rate limit that is not an object', { rateLimit: 10 }, 'policy.rateLimit'],
    ['a rate of 0', { rateLimit: { max: 0, intervalMs: 10 } }, 'policy.rateLimit.max'],
    ['a rate without an interval', { rateLimit: { max: 5 } }, 'policy.rateLimit.intervalMs'],
    ['an unknown rate key', { rateLimit: { max: 5, intervalMs: 10, burst: 2 } }, 'policy.rateLimit.burst'],
    ['a fractional group concurrency', { groups: { concurrency: 1.5 } }, 'policy.groups.concurrency'],
    ['an unknown group order', { groups: { order: 'loose' } }, 'policy.groups.order'],
    ['an unknown groups key', { groups: { weight: 2 } }, 'policy.groups.weight'],
  ])('refuses %s, naming %s', (_what, policy, option) => {
    expect(invalid(policy, option).startsWith(`invalid ${option}: `)).toBe(true);
  });
});
