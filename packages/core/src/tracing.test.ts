// Unit tests of the tracing helpers: the lazy, once-only load of @opentelemetry/api (tracing off
// for good when it is missing), W3C traceparent in and out, and error.type names.
import * as api from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { Logger } from './log.js';
import { OtelLoader, errorType, spanContextFrom, traceContextOf, type OtelApi, type OtelSpan } from './tracing.js';

const otel = api as unknown as OtelApi;

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = ((format: string, ...args: unknown[]) => void lines.push([format, ...args].join(' '))) as Logger & { lines: string[] };
  Object.defineProperty(log, 'enabled', { value: true });
  log.lines = lines;
  return log;
}

describe('OtelLoader', () => {
  it('without the package: tries the import once, logs why, and stays off for good', async () => {
    const log = recorder();
    let tries = 0;
    const loader = new OtelLoader(() => {
      tries++;
      return Promise.reject(new Error("Cannot find package '@opentelemetry/api'"));
    }, log);
    expect(loader.api).toBeUndefined();
    const [a, b] = await Promise.all([loader.load(), loader.load()]);
    expect(await loader.load()).toBeNull();
    expect([a, b, loader.api, tries]).toEqual([null, null, null, 1]);
    expect(log.lines).toEqual(["tracing off: @opentelemetry/api is not installed (%s) Cannot find package '@opentelemetry/api'"]);
  });

  it('with the package: the API, loaded once', async () => {
    let tries = 0;
    const loader = new OtelLoader(() => {
      tries++;
      return import('@opentelemetry/api');
    }, recorder());
    const loaded = await loader.load();
    await loader.load();
    expect(loaded?.trace.getTracer).toBe(api.trace.getTracer);
    expect(loader.api).toBe(loaded);
    expect(tries).toBe(1);
  });

  it('a module that is not the API (too old, or something else) leaves tracing off', async () => {
    const log = recorder();
    const loader = new OtelLoader(() => Promise.resolve({ trace: {} }), log);
    expect(await loader.load()).toBeNull();
    expect(log.lines[0]).toMatch(/^tracing off: @opentelemetry\/api loaded, but it lacks what kyoo uses/);
  });
});

describe('W3C trace context', () => {
  const spanWith = (sc: api.SpanContext): OtelSpan => api.trace.wrapSpanContext(sc) as unknown as OtelSpan;
  const sc = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };

  it('a valid span context becomes a traceparent (and tracestate when there is one), and back', () => {
    expect(traceContextOf(otel, spanWith(sc))).toEqual({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    const withState = traceContextOf(otel, spanWith({ ...sc, traceFlags: 0, traceState: api.createTraceState('a=1,b=2') }));
    expect(withState).toEqual({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', tracestate: 'a=1,b=2' });
    const back = spanContextFrom(otel, withState!);
    expect(back).toMatchObject({ ...sc, traceFlags: 0, isRemote: true });
    expect(back?.traceState?.serialize()).toBe('a=1,b=2');
  });

  it('an invalid span context (no SDK, nothing to pass on) stores nothing', () => {
    expect(traceContextOf(otel, spanWith(api.INVALID_SPAN_CONTEXT))).toBeUndefined();
  });

  it.each([
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['version 00 with more parts', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz'],
    ['an all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['an all-zero span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['upper-case hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'],
    ['a short trace id', '00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01'],
    ['garbage', 'not a traceparent'],
  ])('a traceparent W3C refuses (%s) names no span context', (_what, traceparent) => {
    expect(spanContextFrom(otel, { traceparent })).toBeUndefined();
  });

  it('a later version may append parts', () => {
    expect(spanContextFrom(otel, { traceparent: '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later' })).toMatchObject(sc);
  });
});

describe('errorType', () => {
  it("is the error's name, else its class, else _OTHER for what is not an Error", () => {
    class ProviderDown extends Error {}
    class Named extends Error {
      override name = 'MailError';
    }
    expect([errorType(new TypeError('x')), errorType(new ProviderDown('x')), errorType(new Named('x')), errorType(new Error('x')), errorType('a string')])
      .toEqual(['TypeError', 'ProviderDown', 'MailError', 'Error', '_OTHER']);
  });
});
