import { randomUUID } from 'node:crypto';
import type { JobContext, JobHandler, JobInfo, JobOptions, JobQueue, JobState, Worker } from './job-queue.js';

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_BACKOFF_MS = 1_000;
/** Same retention as the BullMQ adapter: finished jobs stay visible to getJob for a while. */
const KEEP_COMPLETED = { ageMs: 24 * 3_600_000, count: 1_000 };
const KEEP_FAILED = { ageMs: 7 * 24 * 3_600_000, count: 5_000 };

interface JobRecord {
  id: string;
  name: string;
  /** Stored serialised, as in Redis: the handler and getJob callers each get their own copy. */
  data: string;
  state: JobState;
  progress: number | object;
  attemptsMade: number;
  attempts: number;
  backoffMs: number;
  result?: string;
  failedReason?: string;
  createdAt: number;
  finishedAt?: number;
}

interface WorkerState {
  handler: JobHandler<unknown, unknown>;
  concurrency: number;
  active: Set<Promise<void>>;
  closed: boolean;
}

function serialise(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

function deserialise(value: string | undefined): unknown {
  return value === undefined ? undefined : (JSON.parse(value) as unknown);
}

function integerOption(value: number | undefined, fallback: number, what: string, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min)
    throw new RangeError(`${what} must be at least ${min}, got ${value}`);
  return Math.floor(value);
}

/**
 * The in-process queue of the embedded profile, with the semantics of the BullMQ adapter: FIFO per name,
 * `attempts` tries with exponential backoff, idempotent `jobId`, and finished jobs kept for a while.
 */
export function createMemoryJobQueue(): JobQueue {
  const jobs = new Map<string, JobRecord>();
  const waiting = new Map<string, string[]>();
  const workers = new Map<string, WorkerState>();
  const timers = new Set<NodeJS.Timeout>();
  const finished: { completed: string[]; failed: string[] } = { completed: [], failed: [] };
  let closed = false;

  const info = <TData, TResult>(record: JobRecord): JobInfo<TData, TResult> => ({
    id: record.id,
    name: record.name,
    data: deserialise(record.data) as TData,
    state: record.state,
    progress: typeof record.progress === 'object' ? structuredClone(record.progress) : record.progress,
    attemptsMade: record.attemptsMade,
    ...(record.result !== undefined ? { result: deserialise(record.result) as TResult } : {}),
    ...(record.failedReason !== undefined ? { failedReason: record.failedReason } : {}),
    createdAt: new Date(record.createdAt).toISOString(),
    ...(record.finishedAt !== undefined ? { finishedAt: new Date(record.finishedAt).toISOString() } : {}),
  });

  const prune = (state: 'completed' | 'failed') => {
    const keep = state === 'completed' ? KEEP_COMPLETED : KEEP_FAILED;
    const ids = finished[state];
    const oldest = Date.now() - keep.ageMs;
    while (ids.length > 0) {
      const record = jobs.get(ids[0] ?? '');
      const stale = !record || record.state !== state || (record.finishedAt ?? 0) < oldest;
      if (!stale && ids.length <= keep.count) break;
      ids.shift();
      if (record?.state === state) jobs.delete(record.id);
    }
  };

  const later = (delayMs: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, delayMs);
    // Like Redis, a delayed job does not keep the process alive; it runs when a worker is around.
    timer.unref();
    timers.add(timer);
  };

  const makeWaiting = (record: JobRecord) => {
    record.state = 'waiting';
    const queue = waiting.get(record.name) ?? [];
    queue.push(record.id);
    waiting.set(record.name, queue);
    // Never start a handler inside enqueue(): callers see the job waiting, as with BullMQ.
    queueMicrotask(() => pump(record.name));
  };

  const run = async (record: JobRecord, worker: WorkerState) => {
    record.state = 'active';
    const context: JobContext<unknown> = {
      id: record.id,
      name: record.name,
      data: deserialise(record.data),
      attempt: record.attemptsMade + 1,
      async updateProgress(progress) {
        if (record.state === 'active')
          record.progress = typeof progress === 'object' ? structuredClone(progress) : progress;
      },
    };
    try {
      const result = await worker.handler(context);
      record.attemptsMade++;
      record.result = serialise(result);
      record.state = 'completed';
      record.finishedAt = Date.now();
      finished.completed.push(record.id);
      prune('completed');
    } catch (error) {
      record.attemptsMade++;
      record.failedReason = error instanceof Error ? error.message : String(error);
      if (record.attemptsMade < record.attempts) {
        record.state = 'delayed';
        if (!closed) later(record.backoffMs * 2 ** (record.attemptsMade - 1), () => makeWaiting(record));
      } else {
        record.state = 'failed';
        record.finishedAt = Date.now();
        finished.failed.push(record.id);
        prune('failed');
      }
    }
  };

  function pump(name: string) {
    const worker = workers.get(name);
    const queue = waiting.get(name);
    if (!worker || !queue) return;
    while (!worker.closed && worker.active.size < worker.concurrency && queue.length > 0) {
      const record = jobs.get(queue.shift() ?? '');
      if (!record || record.state !== 'waiting') continue;
      const task = run(record, worker).finally(() => {
        worker.active.delete(task);
        pump(name);
      });
      worker.active.add(task);
    }
  }

  const closeWorker = async (name: string, worker: WorkerState) => {
    worker.closed = true;
    while (worker.active.size > 0) await Promise.all([...worker.active]);
    if (workers.get(name) === worker) workers.delete(name);
  };

  return {
    async enqueue<TData>(name: string, data: TData, options: JobOptions = {}): Promise<JobInfo<TData>> {
      if (closed) throw new Error('job queue is closed');
      const id = options.jobId ?? randomUUID();
      const existing = jobs.get(id);
      if (existing) return info<TData, unknown>(existing);
      const delayMs = integerOption(options.delayMs, 0, 'delayMs', 0);
      const record: JobRecord = {
        id,
        name,
        data: serialise(data) ?? 'null',
        state: delayMs > 0 ? 'delayed' : 'waiting',
        progress: 0,
        attemptsMade: 0,
        attempts: integerOption(options.attempts, DEFAULT_ATTEMPTS, 'attempts', 1),
        backoffMs: integerOption(options.backoffMs, DEFAULT_BACKOFF_MS, 'backoffMs', 0),
        createdAt: Date.now(),
      };
      jobs.set(id, record);
      if (delayMs > 0) later(delayMs, () => makeWaiting(record));
      else makeWaiting(record);
      return info<TData, unknown>(record);
    },

    process<TData, TResult>(
      name: string,
      handler: JobHandler<TData, TResult>,
      options: { concurrency?: number } = {},
    ): Worker {
      if (closed) throw new Error('job queue is closed');
      if (workers.has(name)) throw new Error(`a worker for ${name} is already running in this process`);
      const worker: WorkerState = {
        handler: (context) => handler(context as JobContext<TData>),
        concurrency: integerOption(options.concurrency, 1, 'concurrency', 1),
        active: new Set(),
        closed: false,
      };
      workers.set(name, worker);
      pump(name);
      let closing: Promise<void> | undefined;
      return { close: () => (closing ??= closeWorker(name, worker)) };
    },

    async getJob<TData = unknown, TResult = unknown>(
      id: string,
    ): Promise<JobInfo<TData, TResult> | undefined> {
      const record = jobs.get(id);
      return record ? info<TData, TResult>(record) : undefined;
    },

    async close() {
      closed = true;
      await Promise.all([...workers].map(([name, worker]) => closeWorker(name, worker)));
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
