import { Redis, type RedisOptions } from 'ioredis';

export interface RedisClientOptions {
  /** Shown by CLIENT LIST, so a connection can be traced back to the adapter that opened it. */
  name?: string;
  /**
   * BullMQ requires `maxRetriesPerRequest: null`: its blocking commands must wait through reconnects
   * instead of failing after a fixed number of retries.
   */
  forBullmq?: boolean;
}

/** Reconnect with a growing delay capped at 2 s, forever: a Redis restart must not take the service down. */
function retryStrategy(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2_000);
}

export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const redisOptions: RedisOptions = {
    lazyConnect: false,
    retryStrategy,
    maxRetriesPerRequest: options.forBullmq ? null : 20,
    // CLIENT SETNAME refuses spaces.
    ...(options.name ? { connectionName: options.name.replace(/\s+/g, '-') } : {}),
  };
  return new Redis(url, redisOptions);
}
