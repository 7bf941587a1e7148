import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedisClient } from '../redis.js';
import type { Cache } from './cache.js';

export type RedisCacheOptions = { url: string; prefix: string } | { redis: Redis; prefix: string };

/**
 * INCRBY, then PEXPIRE only when this call created the key, in one script so a concurrent first hit
 * cannot create the counter between the check and the increment (and a crash cannot leave it immortal).
 */
const INCREMENT_SCRIPT = `
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
`;
const INCREMENT_SHA = createHash('sha1').update(INCREMENT_SCRIPT).digest('hex');

/** Same rules as the memory adapter; PX refuses zero, negative and fractional values. */
function normalizeTtl(ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0)
    throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

function toNumber(reply: unknown): number {
  if (typeof reply === 'number') return reply;
  if (typeof reply === 'string' && reply.trim() !== '' && Number.isFinite(Number(reply)))
    return Number(reply);
  throw new Error(`unexpected Redis reply ${String(reply)}`);
}

export function createRedisCache(options: RedisCacheOptions): Cache {
  const owned = 'url' in options;
  const redis = owned ? createRedisClient(options.url, { name: `${options.prefix}:cache` }) : options.redis;
  const prefix = `${options.prefix}:cache:`;
  const k = (key: string) => prefix + key;

  const runIncrement = async (key: string, by: number, ttlMs: number): Promise<unknown> => {
    try {
      return await redis.evalsha(INCREMENT_SHA, 1, key, by, ttlMs);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
      return redis.eval(INCREMENT_SCRIPT, 1, key, by, ttlMs);
    }
  };

  return {
    async get(key) {
      return (await redis.get(k(key))) ?? undefined;
    },

    async set(key, value, options) {
      const ttlMs = normalizeTtl(options?.ttlMs);
      if (ttlMs === undefined) await redis.set(k(key), value);
      else await redis.set(k(key), value, 'PX', ttlMs);
    },

    async setIfAbsent(key, value, options) {
      const ttlMs = normalizeTtl(options?.ttlMs);
      const reply =
        ttlMs === undefined
          ? await redis.set(k(key), value, 'NX')
          : await redis.set(k(key), value, 'PX', ttlMs, 'NX');
      return reply === 'OK';
    },

    async take(key) {
      return (await redis.getdel(k(key))) ?? undefined;
    },

    async delete(key) {
      await redis.del(k(key));
    },

    async increment(key, options) {
      const by = options?.by ?? 1;
      if (!Number.isSafeInteger(by)) throw new RangeError(`increment must be an integer, got ${by}`);
      const ttlMs = normalizeTtl(options?.ttlMs) ?? 0;
      return toNumber(await runIncrement(k(key), by, ttlMs));
    },

    async ttl(key) {
      const ms = await redis.pttl(k(key));
      // -2: no such key, -1: no expiry.
      return ms < 0 ? undefined : ms;
    },

    async close() {
      if (owned) await redis.quit();
    },
  };
}
