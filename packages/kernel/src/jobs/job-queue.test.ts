import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../redis.js';
import { deleteByPrefix } from '../testing/redis.js';
import { redisForTests } from '../testing/services.js';
import { createBullJobQueue } from './bullmq-job-queue.js';
import { eventually, jobQueueContract } from './job-queue.contract.js';
import type { JobQueue } from './job-queue.js';
import { createMemoryJobQueue } from './memory-job-queue.js';

jobQueueContract('memory', async () => createMemoryJobQueue());

const redisUrl = await redisForTests('kernel jobs (BullMQ adapter)');

describe.skipIf(redisUrl === undefined)('BullMQ job queue', () => {
  const url = redisUrl ?? '';
  let admin: Redis;

  beforeAll(() => {
    admin = createRedisClient(url, { name: 'jobs-test-admin' });
  });

  afterAll(async () => {
    await admin?.quit();
  });

  /** A queue in its own namespace whose close() also deletes the namespace's keys. */
  const open = (prefix: string): JobQueue => {
    const queue = createBullJobQueue({ url, prefix });
    return {
      ...queue,
      async close() {
        await queue.close();
        await deleteByPrefix(admin, prefix);
      },
    };
  };

  jobQueueContract('bullmq', async () => open(`test:${randomUUID()}`));

  it('finds a job by id from another process that never used its name', async () => {
    const prefix = `test:${randomUUID()}`;
    const producer = open(prefix);
    const observer = createBullJobQueue({ url, prefix });
    try {
      const { id } = await producer.enqueue('test.remote', { n: 1 }, { jobId: 'remote:1' });
      producer.process('test.remote', async () => 'seen');
      const done = await eventually(async () => {
        const job = await observer.getJob(id);
        return job?.state === 'completed' ? job : undefined;
      }, 'the job through the other instance');
      expect(done).toMatchObject({ id: 'remote:1', name: 'test.remote', result: 'seen' });
    } finally {
      await observer.close();
      await producer.close();
    }
  });
});
