import {
  consumeEvents,
  createJobQueue,
  type AdapterEnv,
  type EventTransport,
  type JobQueue,
  type Logger,
  type Subscription,
  type Worker,
} from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';
import { RequestEvents } from '../requests/request-states.js';
import type { AuditManager } from './audit-manager.js';
import {
  AuditRetryRequested,
  RenewalAuditRequested,
  type AuditStorage,
  type RenewalAuditEvent,
} from './audit-storage.js';

export const AUDIT_JOB = 'certification.audit';
/** The automated audit run again before a renewal (programmes with renewalRequiresAudit). */
export const RENEWAL_AUDIT_JOB = 'certification.renewal-audit';
/** Attempts of one audit, the first included; retries wait 2 s, 4 s, 8 s, 16 s. */
export const AUDIT_ATTEMPTS = 5;
const AUDIT_BACKOFF_MS = 2_000;

/** learning's event, as learning publishes it (a contract, not an import). */
export const EnrollmentCompleted = 'learning.EnrollmentCompleted';

const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };

/** One job per request: enqueueing it again (redelivered event, restart sweep) is a no-op. */
export const auditJobId = (requestId: string) => `audit-${requestId}`;

function isSubmitted(payload: unknown): payload is { requestId: string } {
  return typeof (payload as { requestId?: unknown } | null)?.requestId === 'string';
}

function isCompletion(
  payload: unknown,
): payload is { userId: string; courseId: string; completedAt: string } {
  const value = payload as { userId?: unknown; courseId?: unknown; completedAt?: unknown } | null;
  return (
    typeof value?.userId === 'string' &&
    typeof value.courseId === 'string' &&
    typeof value.completedAt === 'string' &&
    !Number.isNaN(Date.parse(value.completedAt))
  );
}

export interface AuditJobsDeps {
  db: CertificationDb;
  transport: EventTransport;
  /** REDIS_URL set: BullMQ; else the in-process queue. */
  env: AdapterEnv;
  /** A queue to use instead of one from the env (tests); left open on close. */
  queue?: JobQueue;
  audits: AuditStorage;
  manager: AuditManager;
  logger: Logger;
}

export interface AuditJobs {
  close(): Promise<void>;
}

/**
 * The automated audit's wiring: `CertificationRequestSubmitted` (consumed once per event) queues the audit
 * (QUEUED row + one job per request), a worker runs it with retries and backoff, learning's completions feed
 * the prerequisites projection, and at start-up requests still SUBMITTED or AUDITING are queued again (the
 * in-process queue does not survive a restart; BullMQ ignores the duplicate).
 */
export async function startAuditJobs(deps: AuditJobsDeps): Promise<AuditJobs> {
  const { audits, manager, logger } = deps;
  const queue = deps.queue ?? (await createJobQueue(deps.env, 'certification'));
  // A retry is a new job (BullMQ keeps a failed job's id and would ignore the same one again).
  const enqueue = (requestId: string, retryId?: string) =>
    queue.enqueue(
      AUDIT_JOB,
      { requestId },
      {
        jobId: retryId ? `${auditJobId(requestId)}-retry-${retryId}` : auditJobId(requestId),
        attempts: AUDIT_ATTEMPTS,
        backoffMs: AUDIT_BACKOFF_MS,
      },
    );

  const worker: Worker = queue.process<{ requestId: string }, unknown>(
    AUDIT_JOB,
    async (job) => {
      try {
        return await manager.run(job.data.requestId);
      } catch (error) {
        logger.warn(
          { err: error, requestId: job.data.requestId, attempt: job.attempt },
          'audit attempt failed',
        );
        if (job.attempt >= AUDIT_ATTEMPTS) await manager.giveUp(job.data.requestId, error);
        throw error;
      }
    },
    { concurrency: 2 },
  );

  const renewalWorker: Worker = queue.process<{ certificateId: string; termExpiresAt: string }, unknown>(
    RENEWAL_AUDIT_JOB,
    async (job) => {
      const term = new Date(job.data.termExpiresAt);
      try {
        return await manager.reauditForRenewal(job.data.certificateId, term);
      } catch (error) {
        logger.warn({ err: error, ...job.data, attempt: job.attempt }, 'renewal audit attempt failed');
        if (job.attempt >= AUDIT_ATTEMPTS) await manager.giveUpRenewal(job.data.certificateId, term, error);
        throw error;
      }
    },
    { concurrency: 1 },
  );

  const subscriptions: Subscription[] = [];
  subscriptions.push(
    await consumeEvents({
      db: deps.db,
      tables,
      transport: deps.transport,
      consumer: 'certification.renewal-audit-starter',
      types: [RenewalAuditRequested],
      handle: async (event) => {
        const payload = event.payload as Partial<RenewalAuditEvent> | null;
        if (typeof payload?.certificateId !== 'string' || typeof payload.termExpiresAt !== 'string')
          throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
        await queue.enqueue(
          RENEWAL_AUDIT_JOB,
          { certificateId: payload.certificateId, termExpiresAt: payload.termExpiresAt },
          {
            jobId: `renewal-audit-${payload.certificateId}-${payload.runId ?? event.id}`,
            attempts: AUDIT_ATTEMPTS,
            backoffMs: AUDIT_BACKOFF_MS,
          },
        );
      },
    }),
  );
  subscriptions.push(
    await consumeEvents({
      db: deps.db,
      tables,
      transport: deps.transport,
      consumer: 'certification.audit-starter',
      types: [RequestEvents.Submitted, AuditRetryRequested],
      handle: async (event, tx) => {
        if (!isSubmitted(event.payload))
          throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
        if (event.type === AuditRetryRequested) {
          const retryId = (event.payload as { retryId?: unknown }).retryId;
          await enqueue(event.payload.requestId, typeof retryId === 'string' ? retryId : event.id);
          return;
        }
        await audits.ensureQueued(tx, event.payload.requestId);
        // Inside the consumer's transaction: if it rolls back, the redelivery enqueues again (same job id).
        await enqueue(event.payload.requestId);
      },
    }),
  );
  subscriptions.push(
    await consumeEvents({
      db: deps.db,
      tables,
      transport: deps.transport,
      consumer: 'certification.completed-courses',
      types: [EnrollmentCompleted],
      handle: async (event, tx) => {
        if (!isCompletion(event.payload))
          throw new Error(`Malformed ${EnrollmentCompleted} payload in event ${event.id}`);
        await audits.rememberCompletion(tx, {
          userId: event.payload.userId,
          courseId: event.payload.courseId,
          completedAt: new Date(event.payload.completedAt),
        });
      },
    }),
  );

  for (const requestId of await audits.findRequestsAwaitingAudit()) {
    await audits.ensureQueued(deps.db, requestId);
    await enqueue(requestId);
  }

  return {
    async close() {
      for (const subscription of subscriptions) await subscription.close();
      await worker.close();
      await renewalWorker.close();
      if (!deps.queue) await queue.close();
    },
  };
}
