import type { QueueMetrics } from '@kyoo/client';
import { describe, expect, it } from 'vitest';
import { QueueHistory, quantile } from './history.js';

const BOUNDS = [10, 100, 1000];

/** Metrics as the sampler reads them: cumulative counters and histogram buckets. */
function metrics(completed: number, wait: number[]): QueueMetrics {
  const h = (c: number[]) => ({ boundsMs: BOUNDS, cumulative: c, sumMs: 0, count: c[c.length - 1]! });
  return { queue: 'q', counters: { added: completed, completed, failed: 0, dead: 0 }, wait: h(wait), processing: h([0, 0, 0, 0]) } as unknown as QueueMetrics;
}

describe('quantile', () => {
  it('interpolates within the bucket as histogram_quantile does', () => {
    expect(quantile(BOUNDS, [5, 10, 10, 10], 0.5)).toBe(10);
    expect(quantile(BOUNDS, [5, 10, 10, 10], 0.95)).toBeCloseTo(91);
    expect(quantile(BOUNDS, [0, 0, 0, 4], 0.5)).toBe(1000); // in +Inf: the highest bound is all that is known
    expect(quantile(BOUNDS, [0, 0, 0, 0], 0.5)).toBeNull();
  });
});

describe('QueueHistory', () => {
  it('gives rates per second between samples, and latency over a window long enough to span a flush', () => {
    const h = new QueueHistory(1000, 0);
    expect(h.add(0, metrics(0, [0, 0, 0, 0]))).toEqual({ added: 0, completed: 0, failed: 0, dead: 0 });
    // 100 jobs a second; the workers' histograms arrive only at t = 5 s (a flush)
    for (let t = 1; t <= 20; t++) h.add(t * 1000, metrics(100 * t, t >= 5 ? [40, 40, 40, 40] : [0, 0, 0, 0]));
    const { points, stepMs } = h.read('5m', 20_000);
    expect(stepMs).toBe(2000);
    expect(points.length).toBe(10);
    for (const p of points) expect(p.completed).toBe(100);
    // every point whose 15 s window holds the flush shows it, not only the step it fell in
    expect(points.filter((p) => p.waitP50 !== null).map((p) => p.t)).toEqual([6000, 8000, 10_000, 12_000, 14_000, 16_000, 18_000]);
    expect(points.find((p) => p.t === 18_000)!.waitP50).toBe(5); // 40 observations, all under 10 ms
    // at 20 s the window (5 s, 20 s] starts after the flush: nothing observed
    expect(points.find((p) => p.t === 20_000)!.waitP50).toBeNull();
  });
});
