import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { recordEvent } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { AuditCheckResult } from '../../db/schema.js';

export type { AuditCheckResult };
import { REQUEST_UPDATES_CHANNEL } from '../live/request-feed.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';

export type AuditRow = typeof schema.requestAudits.$inferSelect;
export type AuditStatus = AuditRow['status'];

const audits = schema.requestAudits;

/** An operator asked for an audit that gave up (ERROR) to run again; the audit consumer queues a new job. */
export const AuditRetryRequested = 'certification.AuditRetryRequested';
const FINISHED: AuditStatus[] = ['PASSED', 'FAILED'];

type Executor = Pick<CertificationDb, 'insert' | 'select' | 'update'>;

/** Wakes live subscriptions (modules/live): the audit's progress is part of what they follow. */
async function notifyLive(db: CertificationDb, requestId: string): Promise<void> {
  await db.execute(sql`select pg_notify(${REQUEST_UPDATES_CHANNEL}, ${requestId})`);
}

export function createAuditStorage(db: CertificationDb) {
  return {
    /** The audit row of a submitted request, QUEUED; a second call changes nothing. */
    async ensureQueued(tx: Executor, requestId: string): Promise<void> {
      await tx.insert(audits).values({ requestId }).onConflictDoNothing();
    },

    async find(requestId: string): Promise<AuditRow | undefined> {
      const [row] = await db.select().from(audits).where(eq(audits.requestId, requestId));
      return row;
    },

    /**
     * Makes `runId` the owner of an unfinished audit (RUNNING, progress and checks reset) and returns the row;
     * a finished audit (PASSED / FAILED) is returned unchanged, for its verdict to be applied again.
     */
    async claim(requestId: string, runId: string): Promise<AuditRow> {
      await db.insert(audits).values({ requestId }).onConflictDoNothing();
      const now = new Date();
      const [claimed] = await db
        .update(audits)
        .set({
          runId,
          status: 'RUNNING',
          progress: 0,
          checks: [],
          error: null,
          attempts: sql`${audits.attempts} + 1`,
          startedAt: now,
          updatedAt: now,
        })
        .where(and(eq(audits.requestId, requestId), notInArray(audits.status, FINISHED)))
        .returning();
      if (claimed) return claimed;
      const finished = await this.find(requestId);
      if (!finished) throw new Error(`audit of request ${requestId} vanished`);
      return finished;
    },

    /** Progress of the run that owns the audit; false when another run took it over. */
    async reportProgress(
      requestId: string,
      runId: string,
      progress: number,
      checks: AuditCheckResult[],
    ): Promise<boolean> {
      const rows = await db
        .update(audits)
        .set({ progress, checks, updatedAt: new Date() })
        .where(and(eq(audits.requestId, requestId), eq(audits.runId, runId), eq(audits.status, 'RUNNING')))
        .returning({ requestId: audits.requestId });
      if (rows.length > 0) await notifyLive(db, requestId);
      return rows.length > 0;
    },

    /** The verdict of the owning run; undefined when another run took the audit over. */
    async finish(
      requestId: string,
      runId: string,
      result: { status: 'PASSED' | 'FAILED'; checks: AuditCheckResult[]; reportCid: string },
    ): Promise<AuditRow | undefined> {
      const now = new Date();
      const [row] = await db
        .update(audits)
        .set({ ...result, progress: 100, finishedAt: now, updatedAt: now })
        .where(and(eq(audits.requestId, requestId), eq(audits.runId, runId), eq(audits.status, 'RUNNING')))
        .returning();
      if (row) await notifyLive(db, requestId);
      return row;
    },

    /** The job gave up (last attempt failed): the request stays AUDITING for an operator to look at. */
    async markError(requestId: string, message: string): Promise<void> {
      const now = new Date();
      await db
        .update(audits)
        .set({ status: 'ERROR', error: message.slice(0, 2000), finishedAt: now, updatedAt: now })
        .where(and(eq(audits.requestId, requestId), notInArray(audits.status, FINISHED)));
    },

    /**
     * An audit that gave up goes back to QUEUED (its checks and error cleared; the previous attempts still
     * counted) and a retry is announced, in one transaction; false when the audit is not in ERROR (any more).
     */
    async requeueAfterError(requestId: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const [row] = await tx
          .update(audits)
          .set({ status: 'QUEUED', error: null, progress: 0, checks: [], finishedAt: null, updatedAt: now })
          .where(and(eq(audits.requestId, requestId), eq(audits.status, 'ERROR')))
          .returning({ requestId: audits.requestId });
        if (!row) return false;
        await recordEvent(
          tx,
          { outbox: schema.outbox, processedEvents: schema.processedEvents },
          AuditRetryRequested,
          { requestId, retryId: randomUUID() },
        );
        await notifyLive(tx, requestId);
        return true;
      });
    },

    async findByRequests(requestIds: readonly string[]): Promise<AuditRow[]> {
      if (requestIds.length === 0) return [];
      return db
        .select()
        .from(audits)
        .where(inArray(audits.requestId, [...requestIds]));
    },

    /** Requests an audit still has to move on (after a restart the in-process queue is empty). */
    async findRequestsAwaitingAudit(limit = 1000): Promise<string[]> {
      const rows = await db
        .select({ id: schema.certificationRequests.id })
        .from(schema.certificationRequests)
        .where(inArray(schema.certificationRequests.status, ['SUBMITTED', 'AUDITING']))
        .limit(limit);
      return rows.map((row) => row.id);
    },

    /** learning's EnrollmentCompleted, remembered once. */
    async rememberCompletion(
      tx: Executor,
      completion: { userId: string; courseId: string; completedAt: Date },
    ): Promise<void> {
      await tx.insert(schema.completedCourses).values(completion).onConflictDoNothing();
    },

    /** Of `courseIds`, those the user completed, with when. */
    async findCompletions(userId: string, courseIds: readonly string[]): Promise<Map<string, Date>> {
      if (courseIds.length === 0) return new Map();
      const rows = await db
        .select()
        .from(schema.completedCourses)
        .where(
          and(
            eq(schema.completedCourses.userId, userId),
            inArray(schema.completedCourses.courseId, [...courseIds]),
          ),
        );
      return new Map(rows.map((row) => [row.courseId, row.completedAt]));
    },
  };
}

export type AuditStorage = ReturnType<typeof createAuditStorage>;

export function createAuditLoaders(storage: AuditStorage) {
  return {
    auditByRequest: new DataLoader<string, AuditRow | null>(async (ids) => {
      const byId = new Map((await storage.findByRequests(ids)).map((row) => [row.requestId, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
