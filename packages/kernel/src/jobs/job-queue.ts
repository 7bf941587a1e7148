/**
 * Background jobs (audits, minting, webhooks, CRM sync, sweeps). BullMQ on Redis in the services
 * profile, an in-process queue in the embedded one. Jobs must be idempotent: a job may run again after
 * a crash, and `jobId` makes enqueueing the same work twice a no-op.
 */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

export interface JobOptions {
  /** Idempotency key: enqueueing a job whose id exists (in any state) returns the existing one. */
  jobId?: string;
  /** Total attempts, first included (default 3). */
  attempts?: number;
  /** Exponential backoff base: retry n waits `backoffMs * 2^(n-1)` (default 1 000). */
  backoffMs?: number;
  /** Delay before the first attempt. */
  delayMs?: number;
}

export interface JobInfo<TData = unknown, TResult = unknown> {
  id: string;
  name: string;
  data: TData;
  state: JobState;
  /** 0–100, or whatever object the handler last reported. */
  progress: number | object;
  attemptsMade: number;
  result?: TResult;
  failedReason?: string;
  createdAt: string;
  finishedAt?: string;
}

export interface JobContext<TData = unknown> {
  id: string;
  name: string;
  data: TData;
  /** 1 on the first attempt. */
  attempt: number;
  updateProgress(progress: number | object): Promise<void>;
}

export type JobHandler<TData = unknown, TResult = unknown> = (job: JobContext<TData>) => Promise<TResult>;

export interface Worker {
  /** Stops taking jobs; waits for running ones to finish. */
  close(): Promise<void>;
}

export interface JobQueue {
  enqueue<TData>(name: string, data: TData, options?: JobOptions): Promise<JobInfo<TData>>;
  /** Starts processing jobs called `name`. One worker per name per process. */
  process<TData, TResult>(
    name: string,
    handler: JobHandler<TData, TResult>,
    options?: { concurrency?: number },
  ): Worker;
  getJob<TData = unknown, TResult = unknown>(id: string): Promise<JobInfo<TData, TResult> | undefined>;
  close(): Promise<void>;
}
