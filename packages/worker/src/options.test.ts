// Unit tests of the worker's option validation: defaults, bounds, and messages that name
// the option (test/behaviour/validation.test.ts shows a refused Worker writes nothing).
import { MAX_DURATION_MS } from '@kyoo/core';
import { describe, expect, it } from 'vitest';
import { resolveWorkerOptions } from './options.js';
import { invalidOption } from '../../../test/support/invalid-option.js';

const invalid = (options: unknown, option: string): string => invalidOption(() => resolveWorkerOptions(options), option).message;

describe('resolveWorkerOptions', () => {
  it('fills in the documented defaults', () => {
    expect(resolveWorkerOptions(undefined)).toEqual({
      connection: undefined,
      prefix: 'kyoo',
      concurrency: 1,
      leaseMs: 30_000,
      heartbeatMs: 10_000,
      timeoutMs: 0,
      backoff: undefined,
      closeGraceMs: 10_000,
      maxIdleMs: 300_000,
      autostart: true,
      metricsFlushMs: 5000,
      tracing: { producer: 'link' },
    });
  });

  it("tracing: producer is 'link' (the default) or 'parent'; anything else names the option", () => {
    expect(resolveWorkerOptions({ tracing: {} }).tracing).toEqual({ producer: 'link' });
    expect(resolveWorkerOptions({ tracing: { producer: 'parent' } }).tracing).toEqual({ producer: 'parent' });
    expect(invalid({ tracing: { producer: 'child' } }, 'tracing.producer')).toBe(
      "invalid tracing.producer: expected 'link' (a trace per run, linked to the producer's span) or 'parent' (a child of the producer's span), got \"child\"",
    );
    invalid({ tracing: { producer: true } }, 'tracing.producer');
    invalid({ tracing: true }, 'tracing');
    invalid({ tracing: null }, 'tracing');
    invalid({ tracing: { parent: true } }, 'tracing.parent');
  });

  it('metricsFlushMs: whole ms from 100 to an hour', () => {
    expect(resolveWorkerOptions({ metricsFlushMs: 100 }).metricsFlushMs).toBe(100);
    for (const bad of [99, 3_600_001, 1.5, '5000', Number.NaN]) invalid({ metricsFlushMs: bad }, 'metricsFlushMs');
  });

  it('derives the heartbeat from the lease (a third of it, at least 50 ms)', () => {
    expect(resolveWorkerOptions({ leaseMs: 900 }).heartbeatMs).toBe(300);
    expect(resolveWorkerOptions({ leaseMs: 1000 }).heartbeatMs).toBe(333);
    expect(resolveWorkerOptions({ leaseMs: 100 }).heartbeatMs).toBe(50);
    expect(resolveWorkerOptions({ leaseMs: 115 * 24 * 3600 * 1000 }).heartbeatMs).toBe(Math.floor((115 * 24 * 3600 * 1000) / 3));
    expect(resolveWorkerOptions({ leaseMs: 1000, heartbeatMs: 999 }).heartbeatMs).toBe(999);
  });

  it('keeps what it is given, the connection and the backoff function as they are', () => {
    const backoff = (attempt: number) => attempt * 10;
    const connection = { host: '10.0.0.1', port: 7000 };
    const o = resolveWorkerOptions({ connection, backoff, prefix: 'app', concurrency: 10_000, autostart: false, maxIdleMs: 10, closeGraceMs: 0 });
    expect(o.connection).toBe(connection);
    expect(o.backoff).toBe(backoff);
    expect(o).toMatchObject({ prefix: 'app', concurrency: 10_000, autostart: false, maxIdleMs: 10, closeGraceMs: 0 });
  });

  it.each([
    ['concurrency', 1, 10_000],
    ['leaseMs', 100, MAX_DURATION_MS],
    ['timeoutMs', 0, MAX_DURATION_MS],
    ['closeGraceMs', 0, MAX_DURATION_MS],
    ['maxIdleMs', 10, 24 * 3600 * 1000],
  ] as const)('%s: accepts %d to %d and refuses one past either end', (option, min, max) => {
    expect(resolveWorkerOptions({ [option]: min })[option]).toBe(min);
    expect(resolveWorkerOptions({ [option]: max })[option]).toBe(max);
    expect(invalid({ [option]: min - 1 }, option)).toBe(`invalid ${option}: expected an integer from ${min} to ${max}, got ${min - 1}`);
    expect(invalid({ [option]: max + 1 }, option)).toBe(`invalid ${option}: expected an integer from ${min} to ${max}, got ${max + 1}`);
    invalid({ [option]: min + 0.5 }, option);
    invalid({ [option]: String(min) }, option);
  });

  it('heartbeatMs: from 10 ms to just under the lease', () => {
    expect(resolveWorkerOptions({ leaseMs: 1000, heartbeatMs: 10 }).heartbeatMs).toBe(10);
    expect(invalid({ leaseMs: 1000, heartbeatMs: 1000 }, 'heartbeatMs')).toBe('invalid heartbeatMs: expected an integer from 10 to 999, got 1000');
    expect(invalid({ heartbeatMs: 9 }, 'heartbeatMs')).toBe('invalid heartbeatMs: expected an integer from 10 to 29999, got 9');
  });

  it('a heartbeat derived from a bad lease is not reported: the lease is', () => {
    invalid({ leaseMs: 50 }, 'leaseMs');
  });

  it('points keepCompleted and maxErrors to queue.setPolicy()', () => {
    expect(invalid({ keepCompleted: true }, 'options.keepCompleted')).toBe(
      'invalid options.keepCompleted: keepCompleted is queue policy now, shared by every worker: set it with queue.setPolicy({ keepCompleted })',
    );
    expect(invalid({ maxErrors: 3 }, 'options.maxErrors')).toMatch(/queue\.setPolicy\(\{ maxErrors \}\)$/);
  });

  it('refuses unknown keys (typos), listing the known ones', () => {
    expect(invalid({ concurency: 5 }, 'options.concurency')).toBe(
      'invalid options.concurency: unknown option; expected one of connection, prefix, concurrency, leaseMs, heartbeatMs, timeoutMs, backoff, closeGraceMs, maxIdleMs, autostart, metricsFlushMs, tracing',
    );
  });

  it('refuses a backoff that is not a function, and an autostart that is not a boolean', () => {
    expect(invalid({ backoff: { type: 'fixed' } }, 'backoff')).toMatch(/expected a function \(attempt, error\) => ms; set per-job backoff objects on add\(\)$/);
    expect(invalid({ autostart: 'yes' }, 'autostart')).toBe('invalid autostart: expected a boolean');
  });

  it('refuses options that are not an object', () => {
    for (const bad of [null, 5, 'redis://x', []]) invalid(bad, 'options');
  });
});
