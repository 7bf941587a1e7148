import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRedisClient } from '../redis.js';
import { deleteByPrefix } from '../testing/redis.js';
import { redisForTests } from '../testing/services.js';
import type { Cache } from './cache.js';
import { cacheContract } from './cache.contract.js';
import { createMemoryCache } from './memory-cache.js';
import { createRedisCache } from './redis-cache.js';

cacheContract('memory', async () => createMemoryCache());

const redisUrl = await redisForTests('kernel cache (Redis adapter)');

describe.skipIf(redisUrl === undefined)('Redis cache', () => {
  const url = redisUrl ?? '';

  // A client per test, handed in so the test can delete its keys after the cache is closed.
  cacheContract('redis', async () => {
    const prefix = `test:${randomUUID()}`;
    const client = createRedisClient(url, { name: 'cache-test' });
    const cache = createRedisCache({ redis: client, prefix });
    const wrapped: Cache = {
      ...cache,
      async close() {
        await cache.close();
        await deleteByPrefix(client, prefix);
        await client.quit();
      },
    };
    return wrapped;
  });

  it('close() quits a client it created and leaves a client it was given open', async () => {
    const prefix = `test:${randomUUID()}`;
    const owned = createRedisCache({ url, prefix });
    await owned.set('k', 'v', { ttlMs: 1_000 });
    await owned.close();
    await expect(owned.get('k')).rejects.toThrow();

    const client = createRedisClient(url);
    try {
      const borrowed = createRedisCache({ redis: client, prefix });
      expect(await borrowed.get('k')).toBe('v');
      await borrowed.close();
      expect(await client.get(`${prefix}:cache:k`)).toBe('v');
      await deleteByPrefix(client, prefix);
    } finally {
      await client.quit();
    }
  });
});
