import { randomUUID } from 'node:crypto';
import { Queue, Worker as BullWorker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { createRedisClient } from '../redis.js';
import type { JobContext, JobHandler, JobInfo, JobOptions, JobQueue, JobState, Worker } from './job-queue.js';

export interface BullJobQueueOptions {
  url: string;
  /** BullMQ's key prefix: keys are `<prefix>:<job name>:...`. */
  prefix: string;
  /** Where worker and connection errors are reported; defaults to console.warn. */
  logger?: Logger;
}

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_BACKOFF_MS = 1_000;
/** Bounded, not immediate, so getJob still sees recent jobs (BullMQ evaluates this as jobs finish). */
const REMOVE_ON_COMPLETE = { age: 24 * 3_600, count: 1_000 };
const REMOVE_ON_FAIL = { age: 7 * 24 * 3_600, count: 5_000 };
/** The id → name index outlives the retention above; a stale entry only costs one extra lookup. */
const INDEX_TTL_MS = 8 * 24 * 3_600_000;

/**
 * BullMQ refuses `:` in queue names and job ids, and job ids that look like integers. Anything it would
 * refuse (or that starts with the escape character) is stored as `~` + base64url, reversibly.
 */
function encodeName(value: string, forJobId: boolean): string {
  const refused =
    value === '' ||
    value.includes(':') ||
    value.startsWith('~') ||
    (forJobId && `${Number.parseInt(value, 10)}` === value);
  return refused ? `~${Buffer.from(value).toString('base64url')}` : value;
}

function decodeName(value: string): string {
  return value.startsWith('~') ? Buffer.from(value.slice(1), 'base64url').toString() : value;
}

function integerOption(value: number | undefined, fallback: number, what: string, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min)
    throw new RangeError(`${what} must be at least ${min}, got ${value}`);
  return Math.floor(value);
}

function toJobState(state: string): JobState | undefined {
  switch (state) {
    case 'waiting':
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return state;
    // Both wait to be picked like any waiting job; we use neither priorities nor flows.
    case 'prioritized':
    case 'waiting-children':
    case 'paused':
      return 'waiting';
    default:
      return undefined;
  }
}

/**
 * BullMQ on Redis: one BullMQ queue per job name. A job id is global across names (getJob takes no name),
 * so each enqueue also records `id → name` in `<prefix>::job-names:<id>` (`::` cannot collide with a
 * queue's keys: queue names are never empty).
 */
export function createBullJobQueue(options: BullJobQueueOptions): JobQueue {
  const { url, prefix } = options;
  const connection = createRedisClient(url, { name: `${prefix}:jobs`, forBullmq: true });
  const queues = new Map<string, Queue>();
  const workers = new Map<string, BullWorker>();
  let closed = false;

  const report = (error: unknown, context: string) => {
    if (options.logger) options.logger.warn({ err: error }, `job queue: ${context}`);
    else console.warn(`[job queue] ${context}: ${error instanceof Error ? error.message : String(error)}`);
  };
  connection.on('error', (error: unknown) => report(error, 'redis connection'));

  const indexKey = (bullId: string) => `${prefix}::job-names:${bullId}`;

  const queueFor = (name: string): Queue => {
    let queue = queues.get(name);
    if (!queue) {
      // The connection is shared, so closing a queue leaves it open; close() quits it last.
      queue = new Queue(encodeName(name, false), { connection, prefix });
      queue.on('error', (error: unknown) => report(error, `queue ${name}`));
      queues.set(name, queue);
    }
    return queue;
  };

  const toInfo = async <TData, TResult>(
    queue: Queue,
    bullId: string,
  ): Promise<JobInfo<TData, TResult> | undefined> => {
    // The job hash and its state are two reads: retry until the state is the same on both sides of the
    // hash read, so attemptsMade, result and state describe one moment.
    let job: Job | undefined;
    let state: JobState | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = await queue.getJobState(bullId);
      job = await queue.getJob(bullId);
      if (!job) return undefined;
      const after = await job.getState();
      state = toJobState(after);
      if (before === after) break;
    }
    if (!job || !state) return undefined;
    const progress: unknown = job.progress;
    const failedReason: unknown = job.failedReason;
    return {
      id: decodeName(job.id ?? bullId),
      name: job.name,
      data: job.data as TData,
      state,
      progress:
        typeof progress === 'number' || (typeof progress === 'object' && progress !== null) ? progress : 0,
      attemptsMade: job.attemptsMade,
      ...(state === 'completed' ? { result: job.returnvalue as TResult } : {}),
      ...(typeof failedReason === 'string' && failedReason !== '' ? { failedReason } : {}),
      createdAt: new Date(job.timestamp).toISOString(),
      ...(job.finishedOn !== undefined ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
    };
  };

  return {
    async enqueue<TData>(name: string, data: TData, jobOptions: JobOptions = {}): Promise<JobInfo<TData>> {
      if (closed) throw new Error('job queue is closed');
      const id = jobOptions.jobId ?? randomUUID();
      const bullId = encodeName(id, true);
      const attempts = integerOption(jobOptions.attempts, DEFAULT_ATTEMPTS, 'attempts', 1);
      const backoffMs = integerOption(jobOptions.backoffMs, DEFAULT_BACKOFF_MS, 'backoffMs', 0);
      const delayMs = integerOption(jobOptions.delayMs, 0, 'delayMs', 0);
      const indexTtlMs = INDEX_TTL_MS + delayMs;

      const claimed = await connection.set(indexKey(bullId), name, 'PX', indexTtlMs, 'NX');
      if (claimed !== 'OK') {
        const owner = await connection.get(indexKey(bullId));
        if (owner !== null && owner !== name) {
          const existing = await toInfo<TData, unknown>(queueFor(owner), bullId);
          if (existing) return existing;
          // The job under the other name is gone: the id is free again.
          await connection.set(indexKey(bullId), name, 'PX', indexTtlMs);
        }
      }

      const queue = queueFor(name);
      // BullMQ ignores an add whose jobId exists in this queue; reading the job back returns the
      // existing one instead of echoing the data passed now.
      const added = await queue.add(name, data, {
        jobId: bullId,
        attempts,
        backoff: { type: 'exponential', delay: backoffMs },
        delay: delayMs,
        removeOnComplete: REMOVE_ON_COMPLETE,
        removeOnFail: REMOVE_ON_FAIL,
      });
      const info = await toInfo<TData, unknown>(queue, bullId);
      if (info) return info;
      return {
        id,
        name,
        data,
        state: delayMs > 0 ? 'delayed' : 'waiting',
        progress: 0,
        attemptsMade: 0,
        createdAt: new Date(added.timestamp).toISOString(),
      };
    },

    process<TData, TResult>(
      name: string,
      handler: JobHandler<TData, TResult>,
      processOptions: { concurrency?: number } = {},
    ): Worker {
      if (closed) throw new Error('job queue is closed');
      if (workers.has(name)) throw new Error(`a worker for ${name} is already running in this process`);
      const worker = new BullWorker(
        encodeName(name, false),
        async (job: Job) => {
          const context: JobContext<TData> = {
            id: decodeName(job.id ?? ''),
            name: job.name,
            data: job.data as TData,
            attempt: job.attemptsMade + 1,
            updateProgress: (progress) => job.updateProgress(progress),
          };
          return handler(context);
        },
        {
          connection,
          prefix,
          concurrency: integerOption(processOptions.concurrency, 1, 'concurrency', 1),
        },
      );
      worker.on('error', (error: unknown) => report(error, `worker ${name}`));
      workers.set(name, worker);
      let closing: Promise<void> | undefined;
      return {
        close: () =>
          (closing ??= worker.close().finally(() => {
            if (workers.get(name) === worker) workers.delete(name);
          })),
      };
    },

    async getJob<TData = unknown, TResult = unknown>(
      id: string,
    ): Promise<JobInfo<TData, TResult> | undefined> {
      const bullId = encodeName(id, true);
      const owner = await connection.get(indexKey(bullId));
      for (const name of owner !== null ? [owner] : [...queues.keys()]) {
        const info = await toInfo<TData, TResult>(queueFor(name), bullId);
        if (info) return info;
      }
      return undefined;
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...workers.values()].map((worker) => worker.close()));
      workers.clear();
      await Promise.all([...queues.values()].map((queue) => queue.close()));
      queues.clear();
      await connection.quit();
    },
  };
}
