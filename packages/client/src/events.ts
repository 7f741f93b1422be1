import { KyooError, type JsonValue, checkInt, checkKnownKeys, checkObject, duplicate, InvalidOptionError, type RedisConnection } from '@kyoo/core';

/** What happened to a job (the events stream's `e` field). */
export type QueueEventType =
  | 'added'
  | 'started'
  | 'progress'
  | 'completed'
  | 'failed'
  | 'retried'
  | 'dead'
  | 'replayed'
  | 'removed'
  | 'cancelled'
  | 'lease-expired'
  | 'backed-off';

/** One entry of a queue's events stream. */
export interface QueueEvent {
  /**
   * The event's position, `<stream entry id>/<index>` (one entry holds the
   * events of one kind from one script call): pass it as `from` to resume
   * right after this event.
   */
  id: string;
  type: QueueEventType;
  jobId: string;
  /** The run it concerns (1 on the first run; 0 for `added` and `replayed`). */
  attempt: number;
  /** When it happened (ms since epoch, Redis clock: the entry id's time). */
  at: number;
  /** For `progress`: the value the handler reported. */
  progress?: JsonValue;
}

/** Options of {@link Queue.events}. */
export interface EventsOptions {
  /**
   * Where to start: an event id to resume right after it (neither missing
   * nor repeating one), `'0'` for every event the stream still holds, or
   * `'$'` for events from now on.
   * @defaultValue `'$'`
   */
  from?: string;
  /** Ends the iteration (the reader's connection is closed). */
  signal?: AbortSignal;
  /** Entries read per call at most. @defaultValue `1000` */
  batch?: number;
}

/**
 * The stream no longer holds every event after the id a reader resumes from
 * (it fell further behind than the policy's `eventsMaxLen`): some may be lost.
 * Resume from `oldest` (or `'0'`) to go on.
 */
export class EventsGapError extends KyooError {
  override readonly name = 'EventsGapError';
  constructor(
    readonly from: string,
    /** The oldest event the stream still holds. */
    readonly oldest: string,
  ) {
    super('EVENTS_GAP', `events after ${from} may have been trimmed (the oldest kept is ${oldest}): the reader fell further behind than the policy's eventsMaxLen`);
  }
}

const ID_RE = /^\d+-\d+(\/\d+)?$/;
/** How long one blocking read waits before it looks at `signal` again (ms). */
const BLOCK_MS = 1000;

/** Checks `options` of {@link readEvents} before any connection is opened. */
export function resolveEventsOptions(options: unknown): { from: string; signal: AbortSignal | undefined; batch: number } {
  const o = checkObject<EventsOptions>('options', options);
  checkKnownKeys('options', o, ['from', 'signal', 'batch']);
  const from = o.from ?? '$';
  if (typeof from !== 'string' || !(from === '$' || from === '0' || ID_RE.test(from))) {
    throw new InvalidOptionError('from', "expected an event id (like '1764633600000-0/3'), '0' or '$'");
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InvalidOptionError('signal', 'expected an AbortSignal');
  return { from, signal: o.signal, batch: checkInt('batch', o.batch ?? 1000, 1, 100_000) };
}

/** a < b for stream ids. */
function before(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am < bm || (am === bm && as < bs);
}

type XReadReply = [string, [string, string[]][]][] | null;

/**
 * Reads a queue's events stream in order, on a connection of its own (closed
 * when the iteration ends). Resuming from an event's id misses and repeats
 * nothing, as long as the stream still holds what follows it; when it may not,
 * the iteration throws {@link EventsGapError} instead of skipping silently.
 */
export async function* readEvents(
  base: RedisConnection,
  key: string,
  options: ReturnType<typeof resolveEventsOptions>,
  /** Called once the reader has its place in the stream (everything after it will be read). */
  onReady?: () => void,
): AsyncGenerator<QueueEvent> {
  const { signal, batch } = options;
  let [last, skip] = splitFrom(options.from);
  const redis = duplicate(base, { maxRetriesPerRequest: null });
  const stop = (): void => redis.disconnect();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    if (last === '$') {
      // "from now": the id of the newest entry, so that nothing between two reads is missed
      const newest = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
      last = newest[0]?.[0] ?? '0-0';
    }
    onReady?.();
    let checkGap = last !== '0' && last !== '0-0';
    if (skip >= 0) {
      // resuming inside an entry: the rest of that entry first
      const [entry] = (await redis.xrange(key, last, last)) as [string, string[]][];
      if (entry) for (const e of entryEvents(entry[0], entry[1])) if (index(e) > skip) yield e;
    }
    while (!signal?.aborted) {
      if (checkGap) {
        const oldest = ((await redis.xrange(key, '-', '+', 'COUNT', 1)) as [string, string[]][])[0]?.[0];
        if (oldest !== undefined && before(last, oldest) && !isSuccessor(last, oldest)) throw new EventsGapError(last, oldest);
        checkGap = false;
      }
      const reply = (await redis.xread('COUNT', batch, 'BLOCK', BLOCK_MS, 'STREAMS', key, last)) as XReadReply;
      const entries = reply?.[0]?.[1] ?? [];
      for (const [id, fields] of entries) {
        last = id;
        for (const e of entryEvents(id, fields)) {
          yield e;
          if (signal?.aborted) return;
        }
      }
      // a full batch: the reader is behind, and the stream may have been trimmed past it meanwhile
      if (entries.length === batch) checkGap = true;
    }
  } catch (err) {
    if (signal?.aborted) return;
    throw err;
  } finally {
    signal?.removeEventListener('abort', stop);
    redis.disconnect();
  }
}

/** `b` directly follows `a` (same ms, next sequence): nothing can lie between them. */
function isSuccessor(a: string, b: string): boolean {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  return am === bm && BigInt(bs!) === BigInt(as!) + 1n;
}

/** 'X/i' -> [X, i]; a plain entry id or '0' / '$' -> [it, -1]. */
function splitFrom(from: string): [string, number] {
  const slash = from.indexOf('/');
  return slash < 0 ? [from, -1] : [from.slice(0, slash), Number(from.slice(slash + 1))];
}

function index(e: QueueEvent): number {
  return Number(e.id.slice(e.id.indexOf('/') + 1));
}

/** The events of one stream entry (see lua/includes/events.lua). */
export function entryEvents(id: string, fields: string[]): QueueEvent[] {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const type = f['e'] as QueueEventType;
  const ids = (f['j'] ?? '').split('\n');
  const attempts = (f['a'] ?? '').split(',');
  const at = Number(id.split('-')[0]);
  const events: QueueEvent[] = ids.map((jobId, i) => ({ id: `${id}/${i}`, type, jobId, attempt: Number(attempts[i] ?? 0), at }));
  if (f['p'] !== undefined) {
    // a progress entry holds one job's report (lua/progress.lua)
    try {
      events[0]!.progress = JSON.parse(f['p']) as JsonValue;
    } catch {
      // not JSON: not written by kyoo; the event stays, without its value
    }
  }
  return events;
}
