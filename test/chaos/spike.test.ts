// The traffic-spike scenario (DESIGN.md story 3, examples/traffic-spike) in a short form:
// 5,000 jobs from 2 producer processes, 4 worker processes at 1 ms per job. Every job is
// completed exactly once and every figure is printed. The full run is `scripts/scenario spike`.
import { expect, test } from 'vitest';
import { runSpike } from '../../examples/traffic-spike/spike.mjs';
import { redisUrl } from '../support/redis.js';

test('spike: 5,000 jobs, 2 producers, 4 workers: nothing lost, nothing done twice, figures printed', async () => {
  const lines: string[] = [];
  const r = await runSpike({
    jobs: 5000,
    workers: 4,
    producers: 2,
    jobMs: 1,
    redisUrl: redisUrl(),
    timeoutMs: 25_000,
    log: (line) => {
      lines.push(line);
      console.log(line);
    },
  });
  expect(r.added).toBe(5000);
  expect(r.addFailures).toBe(0);
  expect(r.lost).toBe(0);
  expect(r.duplicates).toBe(0);
  expect(r.unknown).toBe(0);
  expect(r.completed).toBe(5000);
  expect(r.final).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0 });
  expect(r.problems).toEqual([]);
  // the figures are measured and printed
  for (const v of [r.addLatencyMs.p50, r.addLatencyMs.p99, r.drainMs, r.idealDrainMs, r.achievedRate]) {
    expect(Number.isFinite(v) && v > 0).toBe(true);
  }
  // 4 workers x 1 ms per job: 5,000 jobs cannot drain in less than 1.25 s, nor faster than 4,000 jobs/s
  expect(r.idealDrainMs).toBe(1250);
  expect(r.drainMs).toBeGreaterThanOrEqual(r.idealDrainMs);
  expect(r.achievedRate).toBeLessThanOrEqual(4000);
  // a spike: the adds outran the workers, so jobs waited (how many depends on the machine);
  // the backlog is sampled every 100 ms, so there is a sample at least, and never more waiting than added
  expect(r.peakBacklog).toBeGreaterThan(0);
  expect(r.peakBacklog).toBeLessThanOrEqual(5000);
  expect(r.samples).toBeGreaterThan(0);
  const out = lines.join('\n');
  for (const label of ['add() latency', 'p50', 'p99', 'peak backlog', 'drain', 'ideal drain', 'throughput', 'lost 0, duplicates 0']) {
    expect(out).toContain(label);
  }
}, 30_000);
