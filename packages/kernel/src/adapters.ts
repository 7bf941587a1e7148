import path from 'node:path';
import type { Cache } from './cache/cache.js';
import type { ContentStore } from './content/content-store.js';
import { createMemoryCache } from './cache/memory-cache.js';
import type { EventTransport } from './events/event-transport.js';
import { createMemoryEventTransport } from './events/memory-transport.js';
import type { JobQueue } from './jobs/job-queue.js';
import { createMemoryJobQueue } from './jobs/memory-job-queue.js';

/**
 * The profile switch: with REDIS_URL the Redis adapters (services profile), without it the in-process
 * ones (embedded profile, every service in one process sharing one instance of each). The Redis adapters
 * are imported only when used: ioredis and BullMQ add about half a second to the embedded start-up.
 */
export interface AdapterEnv {
  REDIS_URL?: string | undefined;
  REDIS_PREFIX: string;
}

export async function createEventTransport(env: AdapterEnv, consumerName: string): Promise<EventTransport> {
  if (!env.REDIS_URL) return createMemoryEventTransport();
  const { createRedisStreamsTransport } = await import('./events/redis-streams-transport.js');
  return createRedisStreamsTransport({ url: env.REDIS_URL, prefix: env.REDIS_PREFIX, consumerName });
}

export async function createCache(env: AdapterEnv, namespace: string): Promise<Cache> {
  if (!env.REDIS_URL) return createMemoryCache();
  const { createRedisCache } = await import('./cache/redis-cache.js');
  return createRedisCache({ url: env.REDIS_URL, prefix: `${env.REDIS_PREFIX}:${namespace}` });
}

export async function createJobQueue(env: AdapterEnv, namespace: string): Promise<JobQueue> {
  if (!env.REDIS_URL) return createMemoryJobQueue();
  const { createBullJobQueue } = await import('./jobs/bullmq-job-queue.js');
  return createBullJobQueue({ url: env.REDIS_URL, prefix: `${env.REDIS_PREFIX}:${namespace}` });
}

export interface ContentStoreEnv {
  IPFS_API_URL?: string | undefined;
  DATA_DIR: string;
}

/**
 * Kubo's RPC API when IPFS_API_URL is set (services profile), else the embedded store under
 * DATA_DIR/ipfs. Both give the CIDs of `ipfs add --cid-version=1 --raw-leaves`; each is loaded only when
 * used (kubo-rpc-client brings libp2p's packages).
 */
export async function createContentStore(env: ContentStoreEnv): Promise<ContentStore> {
  if (env.IPFS_API_URL) {
    const { createKuboContentStore } = await import('./content/kubo-content-store.js');
    return createKuboContentStore({ url: env.IPFS_API_URL });
  }
  const { createEmbeddedContentStore } = await import('./content/embedded-content-store.js');
  return createEmbeddedContentStore({ directory: path.join(env.DATA_DIR, 'ipfs') });
}
