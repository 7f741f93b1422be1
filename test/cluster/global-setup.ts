/// <reference path="../support/provided.d.ts" />
// Provides the Redis Cluster of the `cluster` test project: REDIS_CLUSTER_URL if set (a
// redis-cluster://host:port,... list of startup nodes), otherwise a throwaway local cluster of
// 3 masters with 1 replica each (scripts/lib/cluster.mjs, about 3-6 s to start).
import type { TestProject } from 'vitest/node';
import { startCluster } from '../../scripts/lib/cluster.mjs';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.REDIS_CLUSTER_URL;
  if (fromEnv) {
    project.provide('redisUrl', fromEnv);
    return async () => {};
  }
  const cluster = await startCluster();
  project.provide('redisUrl', cluster.url);
  return async () => {
    await cluster.stop();
  };
}
