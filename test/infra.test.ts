// Self-test of the test infrastructure: the shared server, raw RESP helpers and restart with AOF.
import { describe, expect, it } from 'vitest';
import { cleanupPrefix, ping, redisCommand, redisUrl, startRedis, uniqueQueueName } from './support/redis.js';

function shared() {
  const url = new URL(redisUrl());
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return { port: Number(url.port || 6379), options: { host: url.hostname, password } };
}

describe('test infrastructure', () => {
  it('provides a Redis server that answers PING', async () => {
    const { port, options } = shared();
    expect(await ping(port, options)).toBe(true);
  });

  it('makes queue names unique and restricted to [a-z0-9-]', () => {
    const a = uniqueQueueName('Retry Backoff_Test!');
    const b = uniqueQueueName('Retry Backoff_Test!');
    expect(a).toMatch(/^retry-backoff-test-[a-z0-9]+$/);
    expect(a).not.toBe(b);
  });

  it('cleans up keys by prefix and leaves other keys alone', async () => {
    const { port, options } = shared();
    const name = uniqueQueueName('infra');
    const other = uniqueQueueName('infra-other');
    const client = {
      scan: async (...args: (string | number)[]) => (await redisCommand(port, ['SCAN', ...args], options)) as [string, string[]],
      unlink: async (...keys: string[]) => (await redisCommand(port, ['UNLINK', ...keys], options)) as number,
    };
    for (const key of [`${name}:a`, `${name}:b`, `${other}:a`]) await redisCommand(port, ['SET', key, '1'], options);
    expect(await cleanupPrefix(client, `${name}:`)).toBe(2);
    expect(await redisCommand(port, ['EXISTS', `${name}:a`, `${name}:b`, `${other}:a`], options)).toBe(1);
    expect(await cleanupPrefix(client, `${other}:*`)).toBe(1);
  });

  it('keeps appendonly data across SIGKILL and restart on the same port', async () => {
    const redis = await startRedis({ appendonly: true });
    try {
      const { port } = redis;
      expect(await redisCommand(port, ['SET', 'infra:durable', 'still here'])).toBe('OK');
      const before = redis.pid;
      await redis.kill('SIGKILL');
      expect(await ping(port)).toBe(false);
      await redis.restart();
      expect(redis.port).toBe(port);
      expect(redis.pid).not.toBe(before);
      expect(await redisCommand(port, ['GET', 'infra:durable'])).toBe('still here');
    } finally {
      await redis.stop();
    }
  });

  it('pauses and resumes a server', async () => {
    const redis = await startRedis({ password: 's3cret/pw' });
    try {
      const options = { password: 's3cret/pw', timeout: 300 };
      expect(redis.url).toBe(`redis://:s3cret%2Fpw@127.0.0.1:${redis.port}`);
      await redis.pause();
      expect(await ping(redis.port, options)).toBe(false);
      await redis.resume();
      expect(await ping(redis.port, options)).toBe(true);
    } finally {
      await redis.stop();
    }
  });
});
