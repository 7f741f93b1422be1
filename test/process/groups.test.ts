// Ordered groups, fairness, rate limits, global concurrency and back-off with real worker
// processes on one Redis server (test/support/group-scenarios.ts and limit-scenarios.ts, also run
// on the local Redis Cluster by test/cluster/groups.test.ts).
import { afterEach, beforeEach, it } from 'vitest';
import { Scope } from '../support/behaviour.js';
import * as order from '../support/group-scenarios.js';
import * as limits from '../support/limit-scenarios.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('groups-proc');
});
afterEach(async () => {
  await s.dispose();
});

it('2,000 jobs in 50 groups over 4 processes, some failing once: each group in add order, one at a time, a retry before the next job', () => order.orderWithRetries(s));
it('a group of 10 added behind a running group of 10,000 starts its k-th job within k·2 starts (plus the lease calls in flight)', () => order.smallGroupWithinItsTurns(s));
it('per-group concurrency (2 by policy, 3 of its own) is never exceeded across processes, and is reached', () => order.groupConcurrencyAcrossProcesses(s));
it('the queue\'s rate limit holds over 14 intervals across processes, within one interval\'s burst, and is used', () => limits.queueRateLimit(s));
it('per-group rate limits (the policy\'s and a group\'s own) hold over 11 intervals across processes, and are used', () => limits.groupRateLimits(s));
it('maxRunning is never exceeded across processes, over jobs with and without groups, and is reached', () => order.maxRunningAcrossProcesses(s));
it('a handler\'s BackOffError holds every worker process for its delay, and the job keeps its attempt', () => limits.backOffHoldsEveryWorker(s));
it('a group back-off holds that group on every process while the others go on', () => limits.groupBackOff(s));
