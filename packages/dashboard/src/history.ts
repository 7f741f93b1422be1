import type { QueueMetrics } from '@kyoo/client';
import type { History, HistoryPoint, Rates } from './api-types.js';

/** One sample of a queue's cumulative counters and histograms. */
interface Sample {
  t: number;
  added: number;
  completed: number;
  failed: number;
  dead: number;
  wait: number[];
  proc: number[];
}

/**
 * Workers add their histograms to Redis every few seconds (metricsFlushMs,
 * 5 s by default): a latency quantile is taken over at least this long, so
 * a short step does not fall between two flushes and show nothing.
 */
const LATENCY_WINDOW_MS = 15_000;

const RANGES = { '5m': { span: 300_000, points: 150 }, '1h': { span: 3_600_000, points: 180 }, '24h': { span: 86_400_000, points: 288 } } as const;
export type Range = keyof typeof RANGES;
export const isRange = (r: string): r is Range => Object.hasOwn(RANGES, r);

/** A ring of samples (oldest overwritten). */
class Ring {
  private readonly items: (Sample | undefined)[];
  private next = 0;
  private size = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<Sample | undefined>(capacity);
  }
  push(s: Sample): void {
    this.items[this.next] = s;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }
  last(): Sample | undefined {
    return this.size === 0 ? undefined : this.items[(this.next - 1 + this.capacity) % this.capacity];
  }
  /** Samples from `from` on, oldest first. */
  since(from: number): Sample[] {
    const out: Sample[] = [];
    for (let i = 0; i < this.size; i++) {
      const s = this.items[(this.next - this.size + i + this.capacity) % this.capacity]!;
      if (s.t >= from) out.push(s);
    }
    return out;
  }
}

/**
 * A queue's recent history, kept in this process (it begins when the
 * dashboard starts): every sample for the last hour, one a minute for a day.
 * Counters are cumulative in Redis, so a point is the difference of two
 * samples: rates per second, and latency quantiles from the histogram
 * buckets that filled in between.
 */
export class QueueHistory {
  private readonly fine: Ring;
  private readonly coarse = new Ring(24 * 60 + 1);
  private bounds: readonly number[] = [];
  readonly since: number;

  constructor(sampleMs: number, now: number) {
    this.fine = new Ring(Math.ceil(3_600_000 / sampleMs) + 1);
    this.since = now;
  }

  /** Adds a sample; returns the rates since the previous one. */
  add(t: number, m: QueueMetrics): Rates {
    this.bounds = m.wait.boundsMs;
    const s: Sample = { t, added: m.counters.added, completed: m.counters.completed, failed: m.counters.failed, dead: m.counters.dead, wait: m.wait.cumulative, proc: m.processing.cumulative };
    const prev = this.fine.last();
    this.fine.push(s);
    const c = this.coarse.last();
    if (!c || t - c.t >= 60_000) this.coarse.push(s);
    if (!prev || t <= prev.t) return { added: 0, completed: 0, failed: 0, dead: 0 };
    const sec = (t - prev.t) / 1000;
    const rate = (k: 'added' | 'completed' | 'failed' | 'dead'): number => Math.max(0, s[k] - prev[k]) / sec;
    return { added: rate('added'), completed: rate('completed'), failed: rate('failed'), dead: rate('dead') };
  }

  read(range: Range, now: number): History {
    const { span, points } = RANGES[range];
    const stepMs = span / points;
    const samples = (range === '24h' ? this.coarse : this.fine).since(now - span - stepMs);
    const out: HistoryPoint[] = [];
    let prev: Sample | undefined;
    let from = 0; // the latest sample LATENCY_WINDOW_MS or more before the point (latency's start)
    samples.forEach((s, i) => {
      if (prev && s.t - prev.t < stepMs * 0.999 && i !== samples.length - 1) return;
      while (from + 1 < i && samples[from + 1]!.t <= s.t - LATENCY_WINDOW_MS) from++;
      if (prev) out.push(this.point(prev, s, samples[from]!.t < prev.t ? samples[from]! : prev));
      prev = s;
    });
    return { range, stepMs, since: this.since, points: out };
  }

  /** The point for the step a → b; latency over lat → b (lat at or before a). */
  private point(a: Sample, b: Sample, lat: Sample): HistoryPoint {
    const sec = Math.max(0.001, (b.t - a.t) / 1000);
    const d = (k: 'added' | 'completed' | 'failed' | 'dead'): number => Math.max(0, b[k] - a[k]) / sec;
    const wait = delta(lat.wait, b.wait);
    const proc = delta(lat.proc, b.proc);
    return {
      t: b.t, added: d('added'), completed: d('completed'), failed: d('failed'), dead: d('dead'),
      waitP50: quantile(this.bounds, wait, 0.5), waitP95: quantile(this.bounds, wait, 0.95),
      procP50: quantile(this.bounds, proc, 0.5), procP95: quantile(this.bounds, proc, 0.95),
    };
  }
}

function delta(a: number[], b: number[]): number[] {
  return b.map((v, i) => Math.max(0, v - (a[i] ?? 0)));
}

/**
 * The q-quantile of the observations between two samples, from cumulative
 * bucket counts (the last is +Inf), interpolated within its bucket as
 * Prometheus's histogram_quantile does; null when nothing was observed.
 */
export function quantile(bounds: readonly number[], cumulative: number[], q: number): number | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < cumulative.length; i++) {
    if (cumulative[i]! >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null; // in +Inf: the highest bound is all we know
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      return inBucket <= 0 ? bounds[i]! : lo + ((bounds[i]! - lo) * (rank - below)) / inBucket;
    }
  }
  return null;
}
