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

/** A renewal of a programme that requires it asked for the automated audit to run again first. */
export const RenewalAuditRequested = 'certification.RenewalAuditRequested';
/** The renewal's audit passed: the renewal goes to the chain (lifecycle consumes it). */
export const RenewalAuditPassed = 'certification.RenewalAuditPassed';
/** The renewal's audit failed: the certificate stays as it is. */
export const RenewalAuditFailed = 'certification.RenewalAuditFailed';
export interface RenewalAuditEvent {
  certificateId: string;
  /** The expiry being renewed (ISO-8601): the audit's term. */
  termExpiresAt: string;
  requestedBy: string | null;
  /** Distinguishes runs of the same term (a failed audit may be asked for again). */
  runId: string;
}

export type RenewalAuditRow = typeof schema.renewalAudits.$inferSelect;
const renewals = schema.renewalAudits;
const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };
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

    async findRenewalAudit(certificateId: string, term: Date): Promise<RenewalAuditRow | undefined> {
      const [row] = await db
        .select()
        .from(renewals)
        .where(and(eq(renewals.certificateId, certificateId), eq(renewals.termExpiresAt, term)));
      return row;
    },

    /** The renewal audits of these certificates' current terms (`[certificateId, expiresAt]` pairs). */
    async findRenewalAudits(
      terms: ReadonlyArray<{ certificateId: string; expiresAt: Date }>,
    ): Promise<RenewalAuditRow[]> {
      if (terms.length === 0) return [];
      const rows = await db
        .select()
        .from(renewals)
        .where(inArray(renewals.certificateId, [...new Set(terms.map((term) => term.certificateId))]));
      const wanted = new Set(terms.map((term) => `${term.certificateId}@${term.expiresAt.getTime()}`));
      return rows.filter((row) => wanted.has(`${row.certificateId}@${row.termExpiresAt.getTime()}`));
    },

    /**
     * Asks for the renewal's audit of this term: a new one, or again after it FAILED or gave up (ERROR); one
     * QUEUED / RUNNING / PASSED is returned as it is. The announcement is written in the same transaction.
     */
    async requestRenewalAudit(
      certificateId: string,
      term: Date,
      requestedBy: string | null,
    ): Promise<{ row: RenewalAuditRow; requested: boolean }> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const [row] = await tx
          .insert(renewals)
          .values({ certificateId, termExpiresAt: term, requestedBy })
          .onConflictDoUpdate({
            target: [renewals.certificateId, renewals.termExpiresAt],
            set: {
              status: 'QUEUED',
              checks: [],
              error: null,
              reportCid: null,
              finishedAt: null,
              requestedBy,
              requestedAt: now,
              updatedAt: now,
            },
            setWhere: inArray(renewals.status, ['FAILED', 'ERROR']),
          })
          .returning();
        if (!row) {
          const [current] = await tx
            .select()
            .from(renewals)
            .where(and(eq(renewals.certificateId, certificateId), eq(renewals.termExpiresAt, term)));
          return { row: current!, requested: false };
        }
        await recordEvent<RenewalAuditEvent>(tx, tables, RenewalAuditRequested, {
          certificateId,
          termExpiresAt: term.toISOString(),
          requestedBy,
          runId: randomUUID(),
        });
        return { row, requested: true };
      });
    },

    /** RUNNING, for a QUEUED (or interrupted RUNNING) audit; undefined when it finished meanwhile. */
    async claimRenewalAudit(certificateId: string, term: Date): Promise<RenewalAuditRow | undefined> {
      const [row] = await db
        .update(renewals)
        .set({ status: 'RUNNING', runs: sql`${renewals.runs} + 1`, checks: [], updatedAt: new Date() })
        .where(
          and(
            eq(renewals.certificateId, certificateId),
            eq(renewals.termExpiresAt, term),
            inArray(renewals.status, ['QUEUED', 'RUNNING']),
          ),
        )
        .returning();
      return row;
    },

    async reportRenewalProgress(
      certificateId: string,
      term: Date,
      checks: AuditCheckResult[],
    ): Promise<void> {
      await db
        .update(renewals)
        .set({ checks, updatedAt: new Date() })
        .where(
          and(
            eq(renewals.certificateId, certificateId),
            eq(renewals.termExpiresAt, term),
            eq(renewals.status, 'RUNNING'),
          ),
        );
    },

    /** The verdict (or the job giving up), announced in the same transaction; false when not RUNNING any more. */
    async finishRenewalAudit(
      certificateId: string,
      term: Date,
      result:
        | { status: 'PASSED' | 'FAILED'; checks: AuditCheckResult[]; reportCid: string }
        | { status: 'ERROR'; error: string },
    ): Promise<boolean> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const [row] = await tx
          .update(renewals)
          .set({
            ...result,
            ...(result.status === 'ERROR' ? { error: result.error.slice(0, 2000) } : {}),
            finishedAt: now,
            updatedAt: now,
          })
          .where(
            and(
              eq(renewals.certificateId, certificateId),
              eq(renewals.termExpiresAt, term),
              inArray(renewals.status, result.status === 'ERROR' ? ['QUEUED', 'RUNNING'] : ['RUNNING']),
            ),
          )
          .returning();
        if (!row) return false;
        if (result.status !== 'ERROR')
          await recordEvent<RenewalAuditEvent>(
            tx,
            tables,
            result.status === 'PASSED' ? RenewalAuditPassed : RenewalAuditFailed,
            {
              certificateId,
              termExpiresAt: term.toISOString(),
              requestedBy: row.requestedBy,
              runId: randomUUID(),
            },
          );
        return true;
      });
    },

    /** What a renewal audit needs of its certificate: the request whose evidence it re-checks, the term. */
    async certificateForRenewal(
      certificateId: string,
    ): Promise<{ requestId: string; status: string; expiresAt: Date | null } | undefined> {
      const [row] = await db
        .select({
          requestId: schema.certificates.requestId,
          status: schema.certificates.status,
          expiresAt: schema.certificates.expiresAt,
        })
        .from(schema.certificates)
        .where(eq(schema.certificates.id, certificateId));
      return row;
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
    /** The renewal audit of a certificate's current term (keyed by certificate id and expiry). */
    renewalAuditByTerm: new DataLoader<
      { certificateId: string; expiresAt: Date },
      RenewalAuditRow | null,
      string
    >(
      async (terms) => {
        const rows = await storage.findRenewalAudits(terms);
        const byKey = new Map(
          rows.map((row) => [`${row.certificateId}@${row.termExpiresAt.getTime()}`, row]),
        );
        return terms.map((term) => byKey.get(`${term.certificateId}@${term.expiresAt.getTime()}`) ?? null);
      },
      { cacheKeyFn: (term) => `${term.certificateId}@${term.expiresAt.getTime()}` },
    ),
  };
}
