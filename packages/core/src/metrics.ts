/**
 * Bucket bounds (ms) of the wait and processing time histograms as workers
 * record them in Redis: a 1-2-5 series from 1 ms to 1 hour. Every worker
 * uses the same bounds, so buckets sum across processes; an exposition may
 * show any subset of them (`buckets` of {@link prometheusText}).
 */
export const HISTOGRAM_BOUNDS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 3_600_000,
] as const;

/** The two histograms: time from runnable to started, and a run's time from start to its end. */
export type HistogramName = 'wait' | 'proc';

/** One histogram's observations, per bucket (not cumulative; the last bucket is +Inf). */
export class Histogram {
  readonly counts = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(ms: number): void {
    const v = ms > 0 ? ms : 0;
    let i = 0;
    while (i < HISTOGRAM_BOUNDS_MS.length && v > HISTOGRAM_BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** The fields of the `metrics` hash this histogram adds to, with what to add; resets it. */
  take(name: HistogramName): { field: string; by: number }[] {
    const out: { field: string; by: number }[] = [];
    if (this.count === 0) return out;
    this.counts.forEach((n, i) => {
      if (n > 0) out.push({ field: bucketField(name, i), by: n });
    });
    out.push({ field: `${name}:sum`, by: Math.round(this.sum * 1000) / 1000 }, { field: `${name}:count`, by: this.count });
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
    return out;
  }
}

/** The `metrics` hash field of bucket `i` of a histogram (`wait:le:50`, `wait:le:inf`). */
export function bucketField(name: HistogramName, i: number): string {
  return `${name}:le:${i < HISTOGRAM_BOUNDS_MS.length ? HISTOGRAM_BOUNDS_MS[i] : 'inf'}`;
}
