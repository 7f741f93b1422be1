/// <reference path="./support/provided.d.ts" />
// Provides one Redis server for the whole test run: REDIS_URL if set, otherwise a throwaway redis-server.
import type { TestProject } from 'vitest/node';
import { ensureRedisInstalled, startRedis } from '../scripts/lib/redis.mjs';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    project.provide('redisUrl', fromEnv);
    return async () => {};
  }
  ensureRedisInstalled();
  const redis = await startRedis();
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
  };
}
