// Tracing with OpenTelemetry: an add is a `send <queue>` PRODUCER span whose W3C trace context
// the job carries in its record header (apart from the payload); each run is a `process <queue>`
// CONSUMER span linked to it (or, with `tracing: { producer: 'parent' }`, its child), active
// while the handler runs. Without a registered tracer provider nothing is stored.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeRecord } from '@kyoo/core';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, createTraceState, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { InvalidOptionError, Queue, Worker, type Job } from 'kyoo';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Scope, deferred } from '../support/behaviour.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('tracing');
});
afterEach(async () => {
  await s.dispose();
});

/** What a handler saw of tracing. */
interface Seen {
  active: SpanContext | undefined;
  traceContext: Job['traceContext'];
}

function seeing(job: Job): Seen {
  return { active: trace.getActiveSpan()?.spanContext(), traceContext: job.traceContext };
}

/** The record of job `id` as Redis holds it. */
async function storedRecord(id: string): Promise<ReturnType<typeof decodeRecord>> {
  const raw = await s.admin.hgetBuffer(s.keys.jobs, id);
  if (!raw) throw new Error(`no record for job ${id}`);
  return decodeRecord(raw);
}

describe('without @opentelemetry/api', () => {
  it('jobs are added and run as before: the import fails once per package, quietly, and nothing is stored', async () => {
    await s.policy({ keepCompleted: true }); // keeps the record to read after the run
    const fixture = fileURLToPath(new URL('../fixtures/without-otel.mjs', import.meta.url));
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [fixture], {
      env: { ...process.env, REDIS_URL: s.url, KYOO_QUEUE: s.name, DEBUG: 'kyoo:client,kyoo:worker' },
      timeout: 30_000,
    });
    const out = JSON.parse(stdout) as { id: string; traceContext: unknown; apiFound: boolean };
    expect(out).toEqual({ id: out.id, traceContext: null, apiFound: false });
    const r = await storedRecord(out.id);
    expect([r.version, r.traceparent]).toEqual([2, '']);
    for (const pkg of ['client', 'worker']) {
      expect(stderr.match(new RegExp(`kyoo:${pkg} tracing off: @opentelemetry/api is not installed`, 'g'))).toHaveLength(1);
    }
  });
});

// Runs before any tracer provider or context manager is registered in this process.
describe('with @opentelemetry/api installed but no tracer provider registered', () => {
  it('stores no trace context: the record stays at the version without it, and the handler sees none', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ n: 1 });
    const [bulk] = await q.addBulk([{ data: { n: 2 } }]);
    for (const job of [id, bulk!]) {
      const r = await storedRecord(job);
      expect({ version: r.version, traceparent: r.traceparent, tracestate: r.tracestate }).toEqual({ version: 2, traceparent: '', tracestate: '' });
    }
    const seen: Seen[] = [];
    const done = deferred();
    s.trackWorker(new Worker(s.name, (job) => {
      seen.push(seeing(job));
      if (seen.length === 2) done.resolve();
    }, { connection: s.url }));
    await done.promise;
    expect(seen).toEqual([{ active: undefined, traceContext: undefined }, { active: undefined, traceContext: undefined }]);
  });

  // No spans are made then (noTracerProvider), except where a context still has something to pass on.
  it("with a context manager but still no provider, an add made in a caller's span context passes that context on, and a 'parent' run hands it to the handler", async () => {
    const contextManager = new AsyncLocalStorageContextManager();
    context.setGlobalContextManager(contextManager.enable());
    try {
      const caller: SpanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true };
      const q = s.track(new Queue(s.name, { connection: s.url }));
      const traced = await context.with(trace.setSpanContext(ROOT_CONTEXT, caller), () => q.add({ n: 1 }));
      const plain = await q.add({ n: 2 });
      const r = await storedRecord(traced);
      expect([r.version, r.traceparent]).toEqual([4, `00-${caller.traceId}-${caller.spanId}-01`]);
      expect((await storedRecord(plain)).traceparent).toBe('');
      const seen = new Map<number, Seen>();
      const done = deferred();
      s.trackWorker(new Worker<{ n: number }>(s.name, (job) => {
        seen.set(job.data.n, seeing(job));
        if (seen.size === 2) done.resolve();
      }, { connection: s.url, tracing: { producer: 'parent' } }));
      await done.promise;
      expect(seen.get(1)!.active).toMatchObject({ traceId: caller.traceId, spanId: caller.spanId });
      expect(seen.get(1)!.traceContext).toEqual({ traceparent: `00-${caller.traceId}-${caller.spanId}-01` });
      expect(seen.get(2)).toEqual({ active: undefined, traceContext: undefined });
    } finally {
      context.disable();
    }
  });
});

describe('with an OpenTelemetry SDK', () => {
  const exporter = new InMemorySpanExporter();
  /** A span processor of the application's that throws while `broken` (at start and at end). */
  const faulty = {
    broken: false,
    onStart(): void {
      if (faulty.broken) throw new Error('span processor broke at start');
    },
    onEnd(): void {
      if (faulty.broken) throw new Error('span processor broke at end');
    },
    forceFlush: (): Promise<void> => Promise.resolve(),
    shutdown: (): Promise<void> => Promise.resolve(),
  };
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), faulty] });
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  beforeEach(() => {
    exporter.reset();
    faulty.broken = false;
  });

  /** The finished spans of this test's queue named `name`, in the order they ended. */
  const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((sp) => sp.name === `${name} ${s.name}`);
  const traceparentOf = (sc: SpanContext): string => `00-${sc.traceId}-${sc.spanId}-01`;

  it('an add is a send span, child of the caller\'s span; the run is a process span linked to it; the handler sees the producer\'s trace id', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const request = trace.getTracer('test').startSpan('POST /upload');
    const id = await context.with(trace.setSpan(ROOT_CONTEXT, request), () => q.add({ file: 'cat.png' }));
    request.end();
    const [send] = spans('send');
    expect(send).toMatchObject({
      kind: SpanKind.PRODUCER,
      status: { code: SpanStatusCode.UNSET },
      attributes: {
        'messaging.system': 'kyoo',
        'messaging.operation.name': 'send',
        'messaging.operation.type': 'send',
        'messaging.destination.name': s.name,
        'messaging.message.id': id,
      },
    });
    expect(send!.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send!.spanContext().traceId).toBe(request.spanContext().traceId);
    // the trace context travels in the record's header, apart from the payload
    const r = await storedRecord(id);
    expect({ version: r.version, traceparent: r.traceparent, tracestate: r.tracestate }).toEqual({ version: 4, traceparent: traceparentOf(send!.spanContext()), tracestate: '' });

    const seen = deferred<Seen>();
    const completed = deferred();
    const w = s.trackWorker(new Worker(s.name, (job) => seen.resolve(seeing(job)), { connection: s.url }));
    w.on('completed', () => completed.resolve());
    const inHandler = await seen.promise;
    await completed.promise;
    const [run] = spans('process');
    expect(run).toMatchObject({
      kind: SpanKind.CONSUMER,
      status: { code: SpanStatusCode.UNSET },
      attributes: {
        'messaging.system': 'kyoo',
        'messaging.operation.name': 'process',
        'messaging.operation.type': 'process',
        'messaging.destination.name': s.name,
        'messaging.message.id': id,
        'messaging.kyoo.attempt': 1,
      },
    });
    expect(run!.attributes).not.toHaveProperty('error.type');
    // linked, not parented: a trace of its own, whatever context the worker was made in
    expect(run!.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([[send!.spanContext().traceId, send!.spanContext().spanId]]);
    expect(run!.parentSpanContext).toBeUndefined();
    expect(run!.spanContext().traceId).not.toBe(send!.spanContext().traceId);
    // the handler runs in the process span, and finds the producer's trace id in job.traceContext
    expect(inHandler.active?.spanId).toBe(run!.spanContext().spanId);
    expect(inHandler.traceContext).toEqual({ traceparent: traceparentOf(send!.spanContext()) });
    expect(inHandler.traceContext!.traceparent.split('-')[1]).toBe(request.spanContext().traceId);
  });

  it("with tracing: { producer: 'parent' } a run is the producer span's child, in its trace, and spans the handler starts are the run's children", async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ file: 'dog.png' });
    const [send] = spans('send');
    const seen = deferred<Seen>();
    const completed = deferred();
    const w = s.trackWorker(new Worker(s.name, async (job) => {
      const inner = trace.getTracer('test').startSpan('resize');
      await new Promise((r) => setImmediate(r)); // the context survives an await
      inner.end();
      seen.resolve(seeing(job));
    }, { connection: s.url, tracing: { producer: 'parent' } }));
    w.on('completed', () => completed.resolve());
    const inHandler = await seen.promise;
    await completed.promise;
    const [run] = spans('process');
    const producer = send!.spanContext();
    expect(run!.spanContext().traceId).toBe(producer.traceId);
    expect(run!.parentSpanContext).toMatchObject({ traceId: producer.traceId, spanId: producer.spanId, isRemote: true });
    expect(run!.links.map((l) => l.context.spanId)).toEqual([producer.spanId]);
    expect(run!.attributes['messaging.message.id']).toBe(id);
    expect(inHandler.active).toMatchObject({ traceId: producer.traceId, spanId: run!.spanContext().spanId });
    const [inner] = exporter.getFinishedSpans().filter((sp) => sp.name === 'resize');
    expect(inner!.parentSpanContext?.spanId).toBe(run!.spanContext().spanId);
    expect(inner!.spanContext().traceId).toBe(producer.traceId);
  });

  it('a failing attempt records error.type and status ERROR; the retry is a span of its own, linked to the same producer span', async () => {
    class ProviderDown extends Error {}
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const id = await q.add({ to: 'ada@example.com' }, { attempts: 2, backoff: { type: 'fixed', delayMs: 0 } });
    const [send] = spans('send');
    const completed = deferred();
    const w = s.trackWorker(new Worker(s.name, (job) => {
      if (job.attempt === 1) throw new ProviderDown('mail provider unavailable');
    }, { connection: s.url }));
    w.on('completed', () => completed.resolve());
    await completed.promise;
    const runs = spans('process');
    expect(runs.map((sp) => [sp.attributes['messaging.kyoo.attempt'], sp.attributes['error.type'], sp.status])).toEqual([
      [1, 'ProviderDown', { code: SpanStatusCode.ERROR, message: 'mail provider unavailable' }],
      [2, undefined, { code: SpanStatusCode.UNSET }],
    ]);
    for (const run of runs) {
      expect(run.attributes['messaging.message.id']).toBe(id);
      expect(run.links.map((l) => l.context.spanId)).toEqual([send!.spanContext().spanId]);
    }
  });

  it('a handler timeout is recorded as error.type JobTimeoutError', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await q.add({}, { attempts: 1, timeoutMs: 50 });
    const dead = deferred();
    const w = s.trackWorker(new Worker(s.name, () => new Promise(() => {}), { connection: s.url }));
    w.on('dead', () => dead.resolve());
    await dead.promise;
    const [run] = spans('process');
    expect(run!.attributes['error.type']).toBe('JobTimeoutError');
    expect(run!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('an addBulk is one send span with the batch size, whose context every job of it carries', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const ids = await q.addBulk([{ data: 1 }, { data: 2 }, { data: 3 }]);
    const sends = spans('send');
    expect(sends).toHaveLength(1);
    expect(sends[0]!.attributes).toEqual({
      'messaging.system': 'kyoo',
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
      'messaging.destination.name': s.name,
      'messaging.batch.message_count': 3,
    });
    const parents = await Promise.all(ids.map(async (id) => (await storedRecord(id)).traceparent));
    expect(parents).toEqual(ids.map(() => traceparentOf(sends[0]!.spanContext())));
  });

  it("keeps the caller's tracestate with the job, and hands it to the run's link and the handler", async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const upstream = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true, traceState: createTraceState('vendor=abc,other=1') };
    const id = await context.with(trace.setSpanContext(ROOT_CONTEXT, upstream), () => q.add({}));
    const [send] = spans('send');
    expect(send!.spanContext().traceId).toBe(upstream.traceId);
    const r = await storedRecord(id);
    expect([r.traceparent, r.tracestate]).toEqual([traceparentOf(send!.spanContext()), 'vendor=abc,other=1']);
    const seen = deferred<Seen>();
    const completed = deferred();
    const w = s.trackWorker(new Worker(s.name, (job) => seen.resolve(seeing(job)), { connection: s.url }));
    w.on('completed', () => completed.resolve());
    expect((await seen.promise).traceContext).toEqual({ traceparent: traceparentOf(send!.spanContext()), tracestate: 'vendor=abc,other=1' });
    await completed.promise;
    const [run] = spans('process');
    expect(run!.links[0]!.context.traceState?.serialize()).toBe('vendor=abc,other=1');
  });

  it('scripts read a traced (version 4) header as before: an expired lease dead-letters it by its attempts and frees its dedup key', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    const { id } = await q.add({}, { attempts: 1, dedup: { key: 'welcome:ada' } });
    expect((await storedRecord(id)).version).toBe(4);
    expect((await s.lease(1, 100)).jobs.map((j) => j.id)).toEqual([id]);
    await s.waitLeaseExpired(id);
    await s.lease(0, 100); // reclaims: the header's attempts (1) are used up
    expect(await q.dead.get(id)).toMatchObject({ state: 'dead', attemptsMade: 1 });
    // the header's until-complete dedup key was freed: the same key makes a new job
    expect(await q.add({}, { dedup: { key: 'welcome:ada' } })).toMatchObject({ deduplicated: false });
  });

  it('an SDK that throws never fails an add or a run: they go on untraced', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    faulty.broken = true;
    const id = await q.add({ n: 1 });
    const [bulk] = await q.addBulk([{ data: { n: 2 } }]);
    for (const job of [id, bulk!]) expect((await storedRecord(job)).traceparent).toBe('');
    const seen: Seen[] = [];
    const done = deferred();
    const w = s.trackWorker(new Worker(s.name, (job) => void seen.push(seeing(job)), { connection: s.url }));
    w.on('completed', () => seen.length === 2 && done.resolve());
    await done.promise;
    expect(seen.map((x) => x.traceContext)).toEqual([undefined, undefined]);
    expect(await q.counts()).toMatchObject({ ready: 0, leased: 0, dead: 0 });
  });

  it('an add refused before anything is written ends its send span with the error', async () => {
    const q = s.track(new Queue(s.name, { connection: s.url }));
    await expect(q.add({}, { attempts: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
    const [send] = spans('send');
    expect(send!.attributes['error.type']).toBe('InvalidOptionError');
    expect(send!.status.code).toBe(SpanStatusCode.ERROR);
    expect(await q.counts()).toMatchObject({ ready: 0, delayed: 0 });
  });
});
