import DataLoader from 'dataloader';
import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { DomainError, ErrorCode, type Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { Publication } from '../courses/courses-storage.js';

export type EventRow = typeof schema.events.$inferSelect;
export type NewEvent = Omit<
  typeof schema.events.$inferInsert,
  'id' | 'createdAt' | 'updatedAt' | 'publishedAt' | 'seatsTaken'
>;
export type RegistrationRow = typeof schema.eventRegistrations.$inferSelect;

export interface EventListQuery {
  limit: number;
  after?: { startsAt: Date; id: string } | undefined;
  kind?: EventRow['kind'] | undefined;
  from: Date;
  to?: Date | undefined;
  status: Publication;
}

export function createEventsStorage(db: Db<typeof schema>) {
  return {
    async insertEvent(event: NewEvent): Promise<EventRow> {
      const [row] = await db.insert(schema.events).values(event).returning();
      return row!;
    },

    /**
     * Applies `change` to the locked current row and writes the result, so concurrent registrations cannot
     * slip between the check (capacity ≥ seats taken) and the write.
     */
    async updateEvent(
      id: string,
      change: (current: EventRow) => Partial<NewEvent>,
    ): Promise<EventRow | undefined> {
      return db.transaction(async (tx) => {
        const [current] = await tx.select().from(schema.events).where(eq(schema.events.id, id)).for('update');
        if (!current) return undefined;
        const [row] = await tx
          .update(schema.events)
          .set({ ...change(current), updatedAt: new Date() })
          .where(eq(schema.events.id, id))
          .returning();
        return row;
      });
    },

    async publishEvent(id: string): Promise<EventRow | undefined> {
      const now = new Date();
      const [row] = await db
        .update(schema.events)
        .set({ publishedAt: now, updatedAt: now })
        .where(and(eq(schema.events.id, id), isNull(schema.events.publishedAt)))
        .returning();
      return row;
    },

    async findByIds(ids: readonly string[]): Promise<EventRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(schema.events)
        .where(inArray(schema.events.id, [...ids]));
    },

    async listEvents(query: EventListQuery): Promise<EventRow[]> {
      const conditions: SQL[] = [gt(schema.events.endsAt, query.from)];
      if (query.to) conditions.push(lt(schema.events.startsAt, query.to));
      if (query.kind) conditions.push(eq(schema.events.kind, query.kind));
      if (query.status === 'PUBLISHED') conditions.push(isNotNull(schema.events.publishedAt));
      if (query.status === 'DRAFT') conditions.push(isNull(schema.events.publishedAt));
      if (query.after) {
        conditions.push(
          sql`(${schema.events.startsAt}, ${schema.events.id}) > (${query.after.startsAt.toISOString()}::timestamptz, ${query.after.id}::uuid)`,
        );
      }
      return db
        .select()
        .from(schema.events)
        .where(and(...conditions))
        .orderBy(asc(schema.events.startsAt), asc(schema.events.id))
        .limit(query.limit);
    },

    /**
     * Takes a seat and records the registration in one transaction. The seat is taken by a conditional
     * update (published, not over, not full), so concurrent registrations never oversell; a duplicate
     * registration rolls the seat back.
     */
    async register(eventId: string, userId: string): Promise<RegistrationRow> {
      return db.transaction(async (tx) => {
        const [seat] = await tx
          .update(schema.events)
          .set({ seatsTaken: sql`${schema.events.seatsTaken} + 1` })
          .where(
            and(
              eq(schema.events.id, eventId),
              isNotNull(schema.events.publishedAt),
              gt(schema.events.endsAt, new Date()),
              lt(schema.events.seatsTaken, schema.events.capacity),
            ),
          )
          .returning({ id: schema.events.id });
        if (!seat) {
          const [event] = await tx.select().from(schema.events).where(eq(schema.events.id, eventId));
          if (!event) throw new DomainError(ErrorCode.NOT_FOUND, `No event with id "${eventId}"`, 'eventId');
          if (!event.publishedAt)
            throw new DomainError(ErrorCode.INVALID_STATE, 'The event is not published', 'eventId');
          if (event.endsAt <= new Date())
            throw new DomainError(ErrorCode.INVALID_STATE, 'The event is over', 'eventId');
          throw new DomainError(ErrorCode.INVALID_STATE, 'The event is full', 'eventId');
        }
        const [registration] = await tx
          .insert(schema.eventRegistrations)
          .values({ eventId, userId })
          .onConflictDoNothing()
          .returning();
        if (!registration) {
          throw new DomainError(
            ErrorCode.CONFLICT,
            'The user is already registered for this event',
            'userId',
          );
        }
        return registration;
      });
    },
  };
}

export type EventsStorage = ReturnType<typeof createEventsStorage>;

export function createEventLoaders(storage: EventsStorage) {
  return {
    eventById: new DataLoader<string, EventRow | null>(async (ids) => {
      const byId = new Map((await storage.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
