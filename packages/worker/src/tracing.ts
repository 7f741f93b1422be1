import { OtelLoader, endFailed, log, messagingAttributes, noTracerProvider, quietly, spanContextFrom, type OtelApi, type OtelSpan, type OtelSpanOptions, type OtelTracer } from '@kyoo/core';
import type { Handler, Job } from './job.js';

// The specifier sits in a variable so that bundlers leave the import to run
// time (a build without the optional peer dependency does not fail) and
// TypeScript needs none of its types (kyoo types the part it uses).
const OTEL_API = '@opentelemetry/api';

/**
 * `@opentelemetry/api`, looked for once per process, when the first Worker is
 * made; not installed means tracing off, silently (`DEBUG=kyoo:worker` tells).
 */
export const otel = new OtelLoader(() => import(OTEL_API), log.worker);

/** One traced run: the handler to call in its span's context, and how to end the span. */
export interface Process<T, R> {
  readonly handler: Handler<T, R>;
  /** Ends the span of a run that succeeded. */
  ended(): void;
  /** Ends the span of a run that failed with `err`. */
  failed(err: unknown): void;
}

/** A worker's consumer spans, `process <queue>` (OpenTelemetry messaging semantic conventions). */
export class ProcessTracing {
  private tracer: OtelTracer | undefined;
  private readonly name: string;
  private readonly attributes: Readonly<Record<string, string>>;

  constructor(
    queue: string,
    private readonly producer: 'link' | 'parent',
  ) {
    this.name = `process ${queue}`;
    this.attributes = messagingAttributes('process', queue);
  }

  /**
   * Starts the span of one run of `job`: linked to the producer's span (the
   * job's trace context) and, with `producer: 'parent'`, its child; else a
   * root, whatever context the worker itself was made in. The handler
   * returned runs `handler` with the span active, so spans it starts are its
   * children; it is `handler` itself when there is nothing to make active
   * (no SDK registered and no producer context to pass on). Undefined (the
   * run goes on untraced) when the SDK throws, and when there is nothing to
   * record or pass on: no tracer provider registered, and no producer
   * context to run the handler in.
   */
  start<T, R>(api: OtelApi, job: Job<T>, handler: Handler<T, R>): Process<T, R> | undefined {
    if ((job.traceContext === undefined || this.producer === 'link') && noTracerProvider(api)) return undefined;
    return quietly(log.worker, () => this.startSpan(api, job, handler));
  }

  private startSpan<T, R>(api: OtelApi, job: Job<T>, handler: Handler<T, R>): Process<T, R> {
    this.tracer ??= api.trace.getTracer('@kyoo/worker');
    const producer = job.traceContext ? spanContextFrom(api, job.traceContext) : undefined;
    const base = producer && this.producer === 'parent' ? api.trace.setSpanContext(api.ROOT_CONTEXT, producer) : api.ROOT_CONTEXT;
    const options: OtelSpanOptions = {
      kind: api.SpanKind.CONSUMER,
      attributes: { ...this.attributes, 'messaging.message.id': job.id, 'messaging.kyoo.attempt': job.attempt },
    };
    if (producer) options.links = [{ context: producer }];
    const span = this.tracer.startSpan(this.name, options, base);
    const ended = (): void => void quietly(log.worker, () => span.end());
    const failed = (err: unknown): void => void quietly(log.worker, () => endFailed(api, span, err));
    if (!span.isRecording() && !api.trace.isSpanContextValid(span.spanContext())) return { handler, ended, failed };
    const ctx = api.trace.setSpan(base, span);
    return { handler: (j, signal) => api.context.with(ctx, handler, undefined, j, signal), ended, failed };
  }
}
