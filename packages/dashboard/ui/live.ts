import type { JobsMessage, RedriveMessage, TickMessage } from '../src/api-types.js';
import { serverTime } from './format.js';

/**
 * Live updates: one EventSource per page (`api/events?queues=...`), kept
 * while the page watches the same queues, replaced when they change.
 * EventSource reconnects by itself; the header shows when it is trying.
 */

export interface LiveHandlers {
  tick?(m: TickMessage): void;
  jobs?(m: JobsMessage): void;
  redrive?(m: RedriveMessage): void;
}

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'offline';

let source: EventSource | null = null;
let watching: string | null = null;
const handlers = new Set<LiveHandlers>();
let onStatus: (s: LiveStatus) => void = () => {};

/** Watches these queues (null: every queue). */
export function watch(queues: string[] | null): void {
  const key = queues === null ? '*' : [...queues].sort().join(',');
  if (source && watching === key) return;
  source?.close();
  watching = key;
  const es = new EventSource(queues === null ? 'api/events' : `api/events?queues=${queues.map(encodeURIComponent).join(',')}`);
  source = es;
  onStatus('connecting');
  es.onopen = () => onStatus('live');
  // CLOSED: the server refused the stream (e.g. 403), EventSource gives up
  es.onerror = () => onStatus(es.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting');
  es.addEventListener('tick', (e) => {
    const m = parse<TickMessage>(e);
    if (!m) return;
    serverTime(m.at);
    for (const h of handlers) h.tick?.(m);
  });
  es.addEventListener('jobs', (e) => {
    const m = parse<JobsMessage>(e);
    if (m) for (const h of handlers) h.jobs?.(m);
  });
  es.addEventListener('redrive', (e) => {
    const m = parse<RedriveMessage>(e);
    if (m) for (const h of handlers) h.redrive?.(m);
  });
  // the server says `close` when it shuts down; EventSource will try again after `retry`
  es.addEventListener('close', () => onStatus('reconnecting'));
}

/** Adds handlers; returns how to remove them. */
export function listen(h: LiveHandlers): () => void {
  handlers.add(h);
  return () => handlers.delete(h);
}

export function onLiveStatus(fn: (s: LiveStatus) => void): void {
  onStatus = fn;
}

function parse<T>(e: Event): T | null {
  try {
    return JSON.parse((e as MessageEvent<string>).data) as T;
  } catch {
    return null;
  }
}
