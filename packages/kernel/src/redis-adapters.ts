// The Redis-backed adapters, for code that needs one directly (`@symbeon/kernel/redis`). Services get them
// through adapters.ts, which loads them only in the services profile.
export * from './redis.js';
export * from './cache/redis-cache.js';
export * from './events/redis-streams-transport.js';
export * from './jobs/bullmq-job-queue.js';
