import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobContext, JobInfo, JobQueue, JobState } from './job-queue.js';

/** Polls `probe` until it returns a value; the failure message names what was awaited. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/**
 * The behaviour every JobQueue adapter must share. `make` returns a fresh queue per test (its own
 * namespace); the suite closes it afterwards. Undefined means the adapter cannot run here: callers decide
 * whether to register the suite at all, so reaching a test without one is an error.
 */
export function jobQueueContract(name: string, make: () => Promise<JobQueue | undefined>): void {
  describe(`JobQueue contract: ${name}`, () => {
    let queue: JobQueue;

    beforeEach(async () => {
      const made = await make();
      if (!made) throw new Error(`${name}: no adapter to test`);
      queue = made;
    });

    afterEach(async () => {
      await queue?.close();
    });

    const inState = <TData = unknown, TResult = unknown>(id: string, state: JobState) =>
      eventually(async () => {
        const job = await queue.getJob<TData, TResult>(id);
        return job?.state === state ? job : undefined;
      }, `job ${id} to be ${state}`);

    it('runs a job and shows its result through getJob', async () => {
      const before = Date.now();
      const enqueued = await queue.enqueue('test.double', { n: 21 });
      expect(enqueued).toMatchObject({
        name: 'test.double',
        data: { n: 21 },
        state: 'waiting',
        attemptsMade: 0,
      });
      expect(Date.parse(enqueued.createdAt)).toBeGreaterThanOrEqual(before - 5);
      expect(await queue.getJob(enqueued.id)).toEqual(enqueued);

      const contexts: Array<Omit<JobContext<{ n: number }>, 'updateProgress'>> = [];
      queue.process<{ n: number }, { doubled: number }>('test.double', async (job) => {
        contexts.push({ id: job.id, name: job.name, data: job.data, attempt: job.attempt });
        return { doubled: job.data.n * 2 };
      });

      const done = await inState<{ n: number }, { doubled: number }>(enqueued.id, 'completed');
      expect(done).toMatchObject({
        id: enqueued.id,
        name: 'test.double',
        data: { n: 21 },
        result: { doubled: 42 },
        attemptsMade: 1,
        progress: 0,
      });
      expect(done.failedReason).toBeUndefined();
      expect(Date.parse(done.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(done.createdAt));
      expect(contexts).toEqual([{ id: enqueued.id, name: 'test.double', data: { n: 21 }, attempt: 1 }]);
    });

    it('returns undefined for an unknown job', async () => {
      expect(await queue.getJob('no-such-job')).toBeUndefined();
    });

    it('retries a failing job with exponential backoff until it succeeds', async () => {
      const runs: Array<{ attempt: number; at: number }> = [];
      queue.process('test.flaky', async (job) => {
        runs.push({ attempt: job.attempt, at: performance.now() });
        if (job.attempt < 3) throw new Error(`failure ${job.attempt}`);
        return 'ok';
      });
      const { id } = await queue.enqueue('test.flaky', {}, { attempts: 5, backoffMs: 50 });
      const done = await inState(id, 'completed');
      expect(done.result).toBe('ok');
      expect(done.attemptsMade).toBe(3);
      expect(runs.map((run) => run.attempt)).toEqual([1, 2, 3]);
      const [r1, r2, r3] = runs.map((run) => run.at);
      const firstGap = (r2 ?? 0) - (r1 ?? 0);
      const secondGap = (r3 ?? 0) - (r2 ?? 0);
      // 50 ms, then 100 ms (a little slack for timer granularity).
      expect(firstGap).toBeGreaterThanOrEqual(45);
      expect(secondGap).toBeGreaterThanOrEqual(95);
      expect(secondGap).toBeGreaterThan(firstGap);
    });

    it('shows a job waiting for its retry as delayed', async () => {
      queue.process('test.slow-retry', async (job) => {
        if (job.attempt === 1) throw new Error('not yet');
        return job.attempt;
      });
      const { id } = await queue.enqueue('test.slow-retry', {}, { attempts: 2, backoffMs: 400 });
      const delayed = await inState(id, 'delayed');
      expect(delayed.attemptsMade).toBe(1);
      const done = await inState(id, 'completed');
      expect(done.result).toBe(2);
    });

    it('fails a job once its attempts are used up, with the last failure as reason', async () => {
      let runs = 0;
      queue.process('test.doomed', async () => {
        runs++;
        throw new Error(`boom ${runs}`);
      });
      const { id } = await queue.enqueue('test.doomed', { x: 1 }, { attempts: 2, backoffMs: 10 });
      const failed = await inState(id, 'failed');
      expect(failed).toMatchObject({ failedReason: 'boom 2', attemptsMade: 2, data: { x: 1 } });
      expect(failed.result).toBeUndefined();
      expect(failed.finishedAt).toBeDefined();
      await sleep(150);
      expect(runs).toBe(2);
      expect((await queue.getJob(id))?.state).toBe('failed');
    });

    it('shows progress through getJob while the job runs', async () => {
      const halfway = gate();
      const finish = gate();
      queue.process('test.progress', async (job) => {
        await job.updateProgress(25);
        await halfway.promise;
        await job.updateProgress({ step: 'upload', percent: 80 });
        await finish.promise;
        return 'done';
      });
      const { id } = await queue.enqueue('test.progress', {});
      const first = await eventually(async () => {
        const job = await queue.getJob(id);
        return job?.progress === 25 ? job : undefined;
      }, 'progress 25');
      expect(first.state).toBe('active');
      halfway.open();
      const second = await eventually(async () => {
        const job = await queue.getJob(id);
        return typeof job?.progress === 'object' ? job : undefined;
      }, 'object progress');
      expect(second.state).toBe('active');
      expect(second.progress).toEqual({ step: 'upload', percent: 80 });
      finish.open();
      const done = await inState(id, 'completed');
      expect(done.progress).toEqual({ step: 'upload', percent: 80 });
    });

    it('treats jobId as an idempotency key: the same id enqueued twice runs once', async () => {
      let runs = 0;
      const release = gate();
      queue.process<{ v: number }, number>('test.once', async (job) => {
        runs++;
        await release.promise;
        return job.data.v;
      });
      // A colon and a bare integer are both ids BullMQ would refuse as they are.
      for (const jobId of ['report:2024-05', '42']) {
        const first = await queue.enqueue('test.once', { v: 1 }, { jobId });
        const second = await queue.enqueue('test.once', { v: 2 }, { jobId });
        expect(first.id).toBe(jobId);
        expect(second.id).toBe(jobId);
        expect(second.data).toEqual({ v: 1 });
      }
      release.open();
      const done = await inState('report:2024-05', 'completed');
      expect(done.result).toBe(1);
      await inState('42', 'completed');

      const again = await queue.enqueue('test.once', { v: 3 }, { jobId: 'report:2024-05' });
      expect(again).toMatchObject({ id: 'report:2024-05', state: 'completed', data: { v: 1 } });
      const otherName = await queue.enqueue('test.elsewhere', { v: 4 }, { jobId: 'report:2024-05' });
      expect(otherName).toMatchObject({ name: 'test.once', data: { v: 1 } });
      await sleep(150);
      expect(runs).toBe(2);
    });

    it('holds a job back for delayMs', async () => {
      let startedAt: number | undefined;
      queue.process('test.later', async () => {
        startedAt = Date.now();
      });
      const enqueuedAt = Date.now();
      const { id, state } = await queue.enqueue('test.later', {}, { delayMs: 300 });
      expect(state).toBe('delayed');
      await sleep(150);
      expect(startedAt).toBeUndefined();
      expect((await queue.getJob(id))?.state).toBe('delayed');
      await inState(id, 'completed');
      expect((startedAt ?? 0) - enqueuedAt).toBeGreaterThanOrEqual(290);
    });

    it('runs at most `concurrency` jobs at once, and uses that many', async () => {
      const ids: string[] = [];
      for (let n = 0; n < 6; n++) ids.push((await queue.enqueue('test.parallel', { n })).id);
      let active = 0;
      let maxActive = 0;
      queue.process(
        'test.parallel',
        async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(80);
          active--;
        },
        { concurrency: 2 },
      );
      for (const id of ids) await inState(id, 'completed');
      expect(maxActive).toBe(2);
    });

    it('runs jobs of one name in enqueue order with concurrency 1', async () => {
      const order: number[] = [];
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) ids.push((await queue.enqueue('test.fifo', { n })).id);
      queue.process<{ n: number }, void>('test.fifo', async (job) => {
        order.push(job.data.n);
      });
      for (const id of ids) await inState(id, 'completed');
      expect(order).toEqual([0, 1, 2, 3, 4]);
    });

    it('closing a worker waits for its running job and stops taking new ones', async () => {
      const release = gate();
      const started: string[] = [];
      const worker = queue.process('test.closing', async (job) => {
        started.push(job.id);
        await release.promise;
      });
      const first = await queue.enqueue('test.closing', {});
      await eventually(async () => (started.length === 1 ? true : undefined), 'the job to start');

      let closed = false;
      const closing = worker.close().then(() => {
        closed = true;
      });
      await sleep(50);
      expect(closed).toBe(false);
      release.open();
      await closing;
      expect((await queue.getJob(first.id))?.state).toBe('completed');

      const second = await queue.enqueue('test.closing', {});
      await sleep(200);
      expect(started).toEqual([first.id]);
      expect((await queue.getJob(second.id))?.state).toBe('waiting');
    });

    it('keeps job data as JSON', async () => {
      const data = { text: 'ü 🦊', list: [1, { deep: true }], nothing: null };
      const job: JobInfo<typeof data> = await queue.enqueue('test.data', data);
      expect((await queue.getJob<typeof data>(job.id))?.data).toEqual(data);
    });
  });
}
