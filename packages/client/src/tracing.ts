import { OtelLoader, endFailed, holdsSpan, log, messagingAttributes, noTracerProvider, quietly, traceContextOf, type OtelApi, type OtelSpan, type OtelTracer, type TraceContext } from '@kyoo/core';

// The specifier sits in a variable so that bundlers leave the import to run
// time (a build without the optional peer dependency does not fail) and
// TypeScript needs none of its types (kyoo types the part it uses).
const OTEL_API = '@opentelemetry/api';

/**
 * `@opentelemetry/api`, looked for once per process, when the first Queue is
 * made; not installed means tracing off, silently (`DEBUG=kyoo:client` tells).
 */
export const otel = new OtelLoader(() => import(OTEL_API), log.client);

/** One producer span: the trace context to store with the job(s), and the span to end with the outcome. */
export interface Send {
  readonly api: OtelApi;
  readonly span: OtelSpan;
  /** Undefined when the span context is not valid (no SDK registered): nothing is stored then. */
  readonly trace: TraceContext | undefined;
}

/** A queue's producer spans, `send <queue>` (OpenTelemetry messaging semantic conventions). */
export class SendTracing {
  private tracer: OtelTracer | undefined;
  private readonly name: string;
  private readonly attributes: Readonly<Record<string, string>>;

  constructor(queue: string) {
    this.name = `send ${queue}`;
    this.attributes = messagingAttributes('send', queue);
  }

  /**
   * Starts the span of one `add` (no `count`) or one `addBulk` of `count`
   * jobs, a child of the caller's active context, whose context every job of
   * the call carries as its creation context. Undefined (the add goes on
   * untraced) when the SDK throws, and when there is nothing to record or
   * pass on: no tracer provider registered and no span in the caller's context.
   */
  start(api: OtelApi, count?: number): Send | undefined {
    return quietly(log.client, () => {
      const active = api.context.active();
      if (noTracerProvider(api) && !holdsSpan(api, active)) return undefined;
      this.tracer ??= api.trace.getTracer('@kyoo/client');
      const span = this.tracer.startSpan(this.name, { kind: api.SpanKind.PRODUCER, attributes: this.attributes }, active);
      if (count !== undefined && span.isRecording()) span.setAttribute('messaging.batch.message_count', count);
      return { api, span, trace: traceContextOf(api, span) };
    });
  }
}

/** Ends a producer span that succeeded; `id` is the job's (for one job). */
export function endSent(send: Send, id?: string): void {
  quietly(log.client, () => {
    if (id !== undefined && send.span.isRecording()) send.span.setAttribute('messaging.message.id', id);
    send.span.end();
  });
}

/** Ends a producer span whose call failed with `err`. */
export function endSendFailed(send: Send, err: unknown): void {
  quietly(log.client, () => endFailed(send.api, send.span, err));
}
