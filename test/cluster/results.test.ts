// Results across processes on the local Redis Cluster: the producer here, the worker in a
// process of its own, both through Cluster connections.
import { afterEach, beforeEach, it } from 'vitest';
import { Scope } from '../support/behaviour.js';
import { outcomesFromAnotherProcess } from '../support/result-outcomes.js';

let s: Scope;
beforeEach(() => {
  s = new Scope('results-cluster');
});
afterEach(async () => {
  await s.dispose();
});

it('outcomes of jobs run in another process on a Redis Cluster: value and progress, dead, cancelled, timed out, finished before', () => outcomesFromAnotherProcess(s));
