import type { Logger } from './log.js';

/**
 * W3C trace context as a job carries it, apart from its payload: the
 * `traceparent` of the span that added the job and, if there was one, its
 * `tracestate`. A carrier that `propagation.extract` of OpenTelemetry's W3C
 * propagator reads as it is.
 */
export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** An OpenTelemetry `Context` (opaque here). */
export type OtelContext = object;

/** The part of an OpenTelemetry `SpanContext` kyoo reads and builds. */
export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: { serialize(): string };
}

/** The part of an OpenTelemetry `Span` kyoo uses. */
export interface OtelSpan {
  spanContext(): OtelSpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** Options of `tracer.startSpan` that kyoo passes. */
export interface OtelSpanOptions {
  kind: number;
  attributes: Readonly<Record<string, string | number>>;
  links?: { context: OtelSpanContext }[];
}

/** The part of an OpenTelemetry `Tracer` kyoo uses. */
export interface OtelTracer {
  startSpan(name: string, options: OtelSpanOptions, context: OtelContext): OtelSpan;
}

/**
 * The part of `@opentelemetry/api` kyoo uses, typed here so that kyoo's
 * published types never need the package (it is an optional peer dependency).
 */
export interface OtelApi {
  trace: {
    getTracer(name: string): OtelTracer;
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
    setSpanContext(context: OtelContext, spanContext: OtelSpanContext): OtelContext;
    isSpanContextValid(spanContext: OtelSpanContext): boolean;
    /** Read by {@link noTracerProvider} where present. */
    getTracerProvider?(): unknown;
    getSpanContext?(context: OtelContext): OtelSpanContext | undefined;
  };
  context: {
    active(): OtelContext;
    with<A extends unknown[], R>(context: OtelContext, fn: (...args: A) => R, thisArg?: unknown, ...args: A): R;
  };
  ROOT_CONTEXT: OtelContext;
  createTraceState(raw?: string): { serialize(): string };
  SpanKind: { PRODUCER: number; CONSUMER: number };
  SpanStatusCode: { ERROR: number };
  /** Read by {@link noTracerProvider} where present. */
  ProxyTracerProvider?: new () => { getDelegate(): unknown };
}

/**
 * Loads `@opentelemetry/api` on first use, once: `importer` is the package's
 * own `import()` (so the module resolves from the package that declares the
 * optional peer dependency). When it is not installed (or is not the API),
 * tracing stays off for good, and the reason is logged, never thrown.
 */
export class OtelLoader {
  /** The API once loaded; `null` when tracing is off for good; `undefined` until the first load settles. */
  api: OtelApi | null | undefined = undefined;
  private loading: Promise<OtelApi | null> | undefined;

  constructor(
    private readonly importer: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  /** Starts the load (the first call only) and resolves with its result; never rejects. */
  load(): Promise<OtelApi | null> {
    this.loading ??= this.importer().then(
      (mod) => {
        const api = asApi(mod);
        if (!api) this.logger('tracing off: @opentelemetry/api loaded, but it lacks what kyoo uses (want ^1.3.0)');
        return (this.api = api);
      },
      (err: unknown) => {
        this.logger('tracing off: @opentelemetry/api is not installed (%s)', err instanceof Error ? err.message : String(err));
        return (this.api = null);
      },
    );
    return this.loading;
  }
}

/** The module as kyoo's API, or null when it lacks a part kyoo uses. */
function asApi(mod: unknown): OtelApi | null {
  const m = mod as Partial<OtelApi> | null;
  const ok = typeof m?.trace?.getTracer === 'function' && typeof m.trace.setSpanContext === 'function'
    && typeof m.trace.isSpanContextValid === 'function' && typeof m.context?.with === 'function'
    && typeof m.createTraceState === 'function' && m.ROOT_CONTEXT !== undefined
    && typeof m.SpanKind?.CONSUMER === 'number' && typeof m.SpanStatusCode?.ERROR === 'number';
  return ok ? (m as OtelApi) : null;
}

/** The API's own no-op provider, by API module (what a ProxyTracerProvider delegates to before one is registered). */
const noopProviders = new WeakMap<OtelApi, unknown>();

/**
 * Whether no tracer provider is registered with `api`: every span started now
 * is a no-op that records nothing, and one started in a context without a
 * span carries no trace context either. The producer and the worker then skip
 * making spans at all (their allocations cost a few µs per job, more after an
 * idle spell). False, so that spans are made, whenever it cannot tell (an API
 * without these parts, or a provider registered through another copy of it).
 */
export function noTracerProvider(api: OtelApi): boolean {
  const Proxy = api.ProxyTracerProvider;
  if (typeof Proxy !== 'function' || typeof api.trace.getTracerProvider !== 'function') return false;
  let noop = noopProviders.get(api);
  if (noop === undefined) {
    noop = new Proxy().getDelegate();
    noopProviders.set(api, noop);
  }
  const provider = api.trace.getTracerProvider();
  return provider instanceof Proxy && provider.getDelegate() === noop;
}

/** Whether `context` holds a span (its span context, valid or not), as the API reads it; true when it cannot tell. */
export function holdsSpan(api: OtelApi, context: OtelContext): boolean {
  return typeof api.trace.getSpanContext !== 'function' || api.trace.getSpanContext(context) !== undefined;
}

/** The trace context to store with a job for `span`, or undefined when its span context is not valid (no SDK, nothing to propagate). */
export function traceContextOf(api: OtelApi, span: OtelSpan): TraceContext | undefined {
  const sc = span.spanContext();
  if (!api.trace.isSpanContextValid(sc)) return undefined;
  const traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  const tracestate = sc.traceState?.serialize() ?? '';
  return tracestate === '' ? { traceparent } : { traceparent, tracestate };
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The remote span context a stored trace context names, or undefined when
 * its `traceparent` is not one W3C Trace Context accepts.
 */
export function spanContextFrom(api: OtelApi, tc: TraceContext): OtelSpanContext | undefined {
  const m = TRACEPARENT.exec(tc.traceparent);
  // version ff is invalid; version 00 has exactly four parts (later versions may append more)
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return undefined;
  const sc: OtelSpanContext = { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & 0xff, isRemote: true };
  if (tc.tracestate) sc.traceState = api.createTraceState(tc.tracestate);
  return api.trace.isSpanContextValid(sc) ? sc : undefined;
}

/** The attributes every kyoo span carries (OpenTelemetry messaging semantic conventions). */
export function messagingAttributes(operation: 'send' | 'process', queue: string): Readonly<Record<string, string>> {
  return Object.freeze({
    'messaging.system': 'kyoo',
    'messaging.operation.name': operation,
    'messaging.operation.type': operation,
    'messaging.destination.name': queue,
  });
}

/** A low-cardinality name for what a failed operation threw: its `name`, else its class, else `_OTHER`. */
export function errorType(err: unknown): string {
  if (err instanceof Error) {
    if (err.name && err.name !== 'Error') return err.name;
    const cls = (err.constructor as { name?: unknown } | undefined)?.name;
    return typeof cls === 'string' && cls !== '' ? cls : 'Error';
  }
  return '_OTHER';
}

/** Marks `span` failed with `err` (`error.type`, status ERROR with the message) and ends it. */
export function endFailed(api: OtelApi, span: OtelSpan, err: unknown): void {
  if (span.isRecording()) {
    span.setAttribute('error.type', errorType(err));
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  span.end();
}

/**
 * Runs `fn`, a call into the OpenTelemetry SDK (a span processor or exporter
 * of yours may throw), so that what it throws is logged and never fails an
 * add or a run; undefined when it threw.
 */
export function quietly<R>(logger: Logger, fn: () => R): R | undefined {
  try {
    return fn();
  } catch (err) {
    logger('tracing: the OpenTelemetry SDK threw, the span is left out: %s', err instanceof Error ? err.message : String(err));
    return undefined;
  }
}
