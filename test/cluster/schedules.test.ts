// The multi-process schedule scenario (test/support/schedule-processes.ts) on the local Redis
// Cluster: workers, a scheduler and racing upserts, all through Cluster connections.
import { afterEach, beforeEach, it } from 'vitest';
import { Scope } from '../support/behaviour.js';
import { OCCURRENCES, threeWorkersAndAScheduler } from '../support/schedule-processes.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('sched-cluster');
});
afterEach(async () => {
  await s.dispose();
});

it(`three workers and a scheduler make exactly one job for each of ${OCCURRENCES} consecutive occurrences, on a Redis Cluster`, () => threeWorkersAndAScheduler(s));
