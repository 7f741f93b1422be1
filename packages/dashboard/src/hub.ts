import { log, type RedisConnection } from '@kyoo/core';
import type { Queue, QueueMetrics } from '@kyoo/client';
import type { JobsMessage, QueueSummary, Rates } from './api-types.js';
import { QueueHistory, type Range } from './history.js';

/** What the hub needs from the dashboard. */
export interface HubDeps {
  redis: RedisConnection;
  /** The queues to show (discovered or configured). */
  names(): Promise<string[]>;
  queue(name: string): Queue;
  sampleMs: number;
}

/** A page listening to live updates: the queues it watches (null = all) and how to send it an event. */
interface Listener {
  queues: Set<string> | null;
  send(event: string, data: unknown): void;
}

const IDS_PER_TYPE = 100;
const EVENTS_PER_READ = 1000;

/**
 * The one reader per dashboard process: every `sampleMs` it reads each
 * queue's metrics (a handful of O(1) commands; the history and the rates
 * come from them) and, for the queues a page watches, the events stream
 * since its last read (one bounded XRANGE). Pages get what it read as
 * server-sent events; no page polls Redis by itself.
 */
export class Hub {
  private readonly histories = new Map<string, QueueHistory>();
  private readonly summaries = new Map<string, QueueSummary>();
  private readonly listeners = new Set<Listener>();
  private readonly lastEvent = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  private first: Promise<void> | undefined;

  constructor(private readonly d: HubDeps) {}

  /** Starts sampling (once); resolves after the first sample. */
  start(): Promise<void> {
    if (!this.first) {
      this.running = true;
      this.first = this.tick();
    }
    return this.first;
  }

  /** The queue's summary as last sampled (sampling it now when it was not yet). */
  async summary(name: string): Promise<QueueSummary> {
    await this.start();
    return this.summaries.get(name) ?? this.sampleOne(name, Date.now());
  }

  history(name: string, range: Range): ReturnType<QueueHistory['read']> {
    const h = this.histories.get(name);
    const now = Date.now();
    return h ? h.read(range, now) : { range, stepMs: 0, since: now, points: [] };
  }

  /** Adds a listener; returns how to remove it. */
  listen(queues: string[] | null, send: Listener['send']): () => void {
    const l: Listener = { queues: queues ? new Set(queues) : null, send };
    this.listeners.add(l);
    void this.start();
    return () => this.listeners.delete(l);
  }

  /** Sends an event to every page watching `queue`. */
  broadcast(queue: string, event: string, data: unknown): void {
    for (const l of this.listeners) if (!l.queues || l.queues.has(queue)) safeSend(l, event, data);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const l of this.listeners) safeSend(l, 'close', {});
    this.listeners.clear();
  }

  private async tick(): Promise<void> {
    const started = Date.now();
    try {
      const names = await this.d.names();
      const seen = new Set(names);
      for (const name of [...this.summaries.keys()]) if (!seen.has(name)) this.summaries.delete(name);
      const summaries = await Promise.all(names.map((n) => this.sampleOne(n, started)));
      const at = Date.now();
      for (const l of this.listeners) safeSend(l, 'tick', { at, queues: l.queues ? summaries.filter((s) => l.queues!.has(s.name)) : summaries });
      await this.readEvents(names);
    } catch (err) {
      log.dashboard('sampling failed (next try in %d ms): %s', this.d.sampleMs, (err as Error).message);
    }
    if (this.closed || !this.running) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(50, this.d.sampleMs - (Date.now() - started)));
    this.timer.unref();
  }

  private async sampleOne(name: string, now: number): Promise<QueueSummary> {
    const m = await this.d.queue(name).metrics();
    let h = this.histories.get(name);
    if (!h) this.histories.set(name, (h = new QueueHistory(this.d.sampleMs, now)));
    const s = summarize(m, h.add(now, m));
    this.summaries.set(name, s);
    return s;
  }

  /** Reads the events streams of the watched queues since the last read, and tells the pages. */
  private async readEvents(names: string[]): Promise<void> {
    const watched = new Set<string>();
    for (const l of this.listeners) for (const q of l.queues ?? names) watched.add(q);
    for (const name of names) {
      if (!watched.has(name)) {
        this.lastEvent.delete(name);
        continue;
      }
      const key = this.d.queue(name).keys.events;
      const from = this.lastEvent.get(name);
      if (from === undefined) {
        // start at the stream's end: pages load what is there, then hear what follows
        const [last] = (await this.d.redis.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][];
        this.lastEvent.set(name, last?.[0] ?? '0-0');
        continue;
      }
      const entries = (await this.d.redis.xrange(key, `(${from}`, '+', 'COUNT', EVENTS_PER_READ)) as [string, string[]][];
      if (entries.length === 0) continue;
      this.lastEvent.set(name, entries[entries.length - 1]![0]);
      const msg: JobsMessage = { queue: name, ids: {}, counts: {} };
      for (const [, fields] of entries) {
        let type = '';
        let ids: string[] = [];
        for (let i = 0; i + 1 < fields.length; i += 2) {
          if (fields[i] === 'e') type = fields[i + 1]!;
          else if (fields[i] === 'j') ids = fields[i + 1]!.split('\n');
        }
        if (type === '') continue;
        msg.counts[type] = (msg.counts[type] ?? 0) + ids.length;
        const list = (msg.ids[type] ??= []);
        for (const id of ids) if (list.length < IDS_PER_TYPE) list.push(id);
      }
      this.broadcast(name, 'jobs', msg);
    }
  }
}

function summarize(m: QueueMetrics, rates: Rates): QueueSummary {
  const g = m.gauges;
  const s: QueueSummary = {
    name: m.queue,
    paused: g.paused,
    counts: { ready: g.ready, delayed: g.delayed, leased: g.running, completed: g.completed, dead: g.dead, cancelled: g.cancelled },
    oldestWaitingMs: g.oldestWaitingMs,
    workers: g.workers,
    busySlots: g.busySlots,
    idleSlots: g.idleSlots,
    rates,
  };
  if (g.ready > 0 && g.workers === 0) s.warning = 'no-workers';
  return s;
}

/** A listener whose connection broke must not stop the others. */
function safeSend(l: Listener, event: string, data: unknown): void {
  try {
    l.send(event, data);
  } catch (err) {
    log.dashboard('a live page could not be sent %s: %s', event, (err as Error).message);
  }
}
