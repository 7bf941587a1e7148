import DataLoader from 'dataloader';
import { and, asc, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { recordEvent } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import { REQUEST_UPDATES_CHANNEL } from '../live/request-feed.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';
import type { ActorKind, RequestState } from './request-states.js';
import { RequestEvents } from './request-states.js';

export type RequestRow = typeof schema.certificationRequests.$inferSelect;
export type TransitionRow = typeof schema.requestTransitions.$inferSelect;

const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };
const requests = schema.certificationRequests;

/** Who made a transition, as recorded in the trail. */
export interface RecordedActor {
  kind: ActorKind;
  /** identity's User id; null for SYSTEM. */
  id: string | null;
  /** The job or consumer, for SYSTEM. */
  name: string | null;
}

export interface AppliedTransition {
  requestId: string;
  from: RequestState;
  to: RequestState;
  actor: RecordedActor;
  reason: string | null;
  evidence: unknown;
  /** Outbox event types to write besides the generic CertificationRequestTransitioned. */
  announce: readonly string[];
}

function eventPayload(row: RequestRow, transition: TransitionRow) {
  return {
    requestId: row.id,
    programmeId: row.programmeId,
    requesterId: row.requesterId,
    from: transition.fromStatus,
    to: transition.toStatus,
    actorKind: transition.actorKind,
    actorId: transition.actorId,
    reason: transition.reason,
    at: transition.at.toISOString(),
  };
}

export function createRequestsStorage(db: CertificationDb) {
  return {
    /**
     * Opens a DRAFT request with its first trail entry and announcement; 'open-exists' when the user
     * already has an open request for the programme (the partial unique index decides, race-free).
     */
    async insertRequest(programmeId: string, requesterId: string): Promise<RequestRow | 'open-exists'> {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .insert(requests)
          .values({ programmeId, requesterId })
          .onConflictDoNothing()
          .returning();
        if (!row) return 'open-exists';
        const [transition] = await tx
          .insert(schema.requestTransitions)
          .values({
            requestId: row.id,
            fromStatus: null,
            toStatus: row.status,
            actorKind: 'REQUESTER',
            actorId: requesterId,
            at: row.createdAt,
          })
          .returning();
        await recordEvent(tx, tables, RequestEvents.Created, eventPayload(row, transition!));
        return row;
      });
    },

    /**
     * Moves the request from `from` to `to`, records the trail entry and the events, all in one transaction
     * — and only if the request is still in `from` (UPDATE ... WHERE status = from): of two concurrent
     * transitions from the same state, one applies and the other gets undefined and writes nothing.
     */
    async applyTransition(change: AppliedTransition): Promise<RequestRow | undefined> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const [row] = await tx
          .update(requests)
          .set({ status: change.to, statusChangedAt: now, updatedAt: now })
          .where(and(eq(requests.id, change.requestId), eq(requests.status, change.from)))
          .returning();
        if (!row) return undefined;
        const [transition] = await tx
          .insert(schema.requestTransitions)
          .values({
            requestId: row.id,
            fromStatus: change.from,
            toStatus: change.to,
            actorKind: change.actor.kind,
            actorId: change.actor.id,
            actorName: change.actor.name,
            reason: change.reason,
            evidence: change.evidence ?? null,
            at: now,
          })
          .returning();
        const payload = eventPayload(row, transition!);
        for (const type of [RequestEvents.Transitioned, ...change.announce]) {
          await recordEvent(tx, tables, type, payload);
        }
        // Wakes live subscriptions (modules/live) once this commits.
        await tx.execute(sql`select pg_notify(${REQUEST_UPDATES_CHANNEL}, ${row.id})`);
        return row;
      });
    },

    async findByIds(ids: readonly string[]): Promise<RequestRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(requests)
        .where(inArray(requests.id, [...ids]));
    },

    /** Trail entries of many requests in one statement, oldest first. */
    async findTransitions(requestIds: readonly string[]): Promise<TransitionRow[]> {
      if (requestIds.length === 0) return [];
      return db
        .select()
        .from(schema.requestTransitions)
        .where(inArray(schema.requestTransitions.requestId, [...requestIds]))
        .orderBy(asc(schema.requestTransitions.seq));
    },

    /** A requester's requests, newest first (keyset page). */
    async listByRequester(query: {
      requesterId: string;
      limit: number;
      after?: { createdAt: Date; id: string } | undefined;
    }): Promise<RequestRow[]> {
      const conditions: SQL[] = [eq(requests.requesterId, query.requesterId)];
      if (query.after) {
        conditions.push(
          sql`(${requests.createdAt}, ${requests.id}) < (${query.after.createdAt.toISOString()}::timestamptz, ${query.after.id}::uuid)`,
        );
      }
      return db
        .select()
        .from(requests)
        .where(and(...conditions))
        .orderBy(desc(requests.createdAt), desc(requests.id))
        .limit(query.limit);
    },

    /** Requests awaiting review on the programmes an auditor is assigned to, longest waiting first. */
    async listReviewQueue(query: {
      auditorId: string;
      limit: number;
      after?: { statusChangedAt: Date; id: string } | undefined;
    }): Promise<RequestRow[]> {
      const conditions: SQL[] = [
        eq(requests.status, 'AWAITING_REVIEW'),
        eq(schema.programmeAuditors.auditorId, query.auditorId),
      ];
      if (query.after) {
        conditions.push(
          sql`(${requests.statusChangedAt}, ${requests.id}) > (${query.after.statusChangedAt.toISOString()}::timestamptz, ${query.after.id}::uuid)`,
        );
      }
      const rows = await db
        .select({ request: requests })
        .from(requests)
        .innerJoin(schema.programmeAuditors, eq(schema.programmeAuditors.programmeId, requests.programmeId))
        .where(and(...conditions))
        .orderBy(asc(requests.statusChangedAt), asc(requests.id))
        .limit(query.limit);
      return rows.map((row) => row.request);
    },
  };
}

export type RequestsStorage = ReturnType<typeof createRequestsStorage>;

export function createRequestLoaders(storage: RequestsStorage) {
  return {
    requestById: new DataLoader<string, RequestRow | null>(async (ids) => {
      const byId = new Map((await storage.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    transitionsByRequest: new DataLoader<string, TransitionRow[]>(async (ids) => {
      const rows = await storage.findTransitions(ids);
      return ids.map((id) => rows.filter((row) => row.requestId === id));
    }),
  };
}
