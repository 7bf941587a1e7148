import type { Cache } from './cache/cache.js';
import { createMemoryCache } from './cache/memory-cache.js';
import { createRedisCache } from './cache/redis-cache.js';
import type { EventTransport } from './events/event-transport.js';
import { createMemoryEventTransport } from './events/memory-transport.js';
import { createRedisStreamsTransport } from './events/redis-streams-transport.js';
import type { JobQueue } from './jobs/job-queue.js';
import { createBullJobQueue } from './jobs/bullmq-job-queue.js';
import { createMemoryJobQueue } from './jobs/memory-job-queue.js';

/**
 * The profile switch: with REDIS_URL the Redis adapters (services profile), without it the in-process
 * ones (embedded profile, every service in one process sharing one instance of each).
 */
export interface AdapterEnv {
  REDIS_URL?: string | undefined;
  REDIS_PREFIX: string;
}

export function createEventTransport(env: AdapterEnv, consumerName: string): EventTransport {
  return env.REDIS_URL
    ? createRedisStreamsTransport({ url: env.REDIS_URL, prefix: env.REDIS_PREFIX, consumerName })
    : createMemoryEventTransport();
}

export function createCache(env: AdapterEnv, namespace: string): Cache {
  return env.REDIS_URL
    ? createRedisCache({ url: env.REDIS_URL, prefix: `${env.REDIS_PREFIX}:${namespace}` })
    : createMemoryCache();
}

export function createJobQueue(env: AdapterEnv, namespace: string): JobQueue {
  return env.REDIS_URL
    ? createBullJobQueue({ url: env.REDIS_URL, prefix: `${env.REDIS_PREFIX}:${namespace}` })
    : createMemoryJobQueue();
}
