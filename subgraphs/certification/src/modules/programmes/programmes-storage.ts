import DataLoader from 'dataloader';
import { and, asc, desc, eq, ilike, inArray, or, sql, type SQL } from 'drizzle-orm';
import { recordEvent, type Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

export type CertificationDb = Db<typeof schema>;
export type ProgrammeRow = typeof schema.programmes.$inferSelect;
export type ProgrammeStatus = ProgrammeRow['status'];
export type NewProgramme = Omit<
  typeof schema.programmes.$inferInsert,
  'id' | 'createdAt' | 'updatedAt' | 'publishedAt' | 'archivedAt' | 'status'
>;
export type ProgrammePatch = Partial<Omit<NewProgramme, 'createdBy'>>;
export type ProgrammeStatusFilter = ProgrammeStatus | 'ANY';

export interface ProgrammeListQuery {
  limit: number;
  after?: { createdAt: Date; id: string } | undefined;
  statuses: readonly ProgrammeStatus[];
  search?: string | undefined;
}

export const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };
export const ProgrammePublished = 'certification.ProgrammePublished';
export const ProgrammeArchived = 'certification.ProgrammeArchived';
/** A published programme's name or price changed (payments keeps its catalogue from these three). */
export const ProgrammeUpdated = 'certification.ProgrammeUpdated';

/**
 * What other subgraphs learn of a programme (payments prices orders from it): its name and price. The amount
 * travels as a decimal string of minor units (JSON has no integers beyond 2^53), both null when free.
 */
export function programmeEventPayload(row: ProgrammeRow) {
  return {
    programmeId: row.id,
    slug: row.slug,
    name: row.name,
    priceAmountMinor: row.priceAmountMinor == null ? null : String(row.priceAmountMinor),
    currency: row.priceCurrency,
  };
}

const UNIQUE_VIOLATION = '23505';

/** postgres.js and PGlite both expose the SQLSTATE as `code`; drizzle wraps it as `cause`. */
export function isUniqueViolation(error: unknown): boolean {
  for (let current: unknown = error; current; current = (current as { cause?: unknown }).cause) {
    if ((current as { code?: unknown }).code === UNIQUE_VIOLATION) return true;
  }
  return false;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

export function createProgrammesStorage(db: CertificationDb) {
  return {
    /** undefined when the slug is taken; the programme and its auditors are written together. */
    async insertProgramme(
      programme: NewProgramme,
      auditorIds: readonly string[],
    ): Promise<ProgrammeRow | undefined> {
      return db.transaction(async (tx) => {
        const [row] = await tx.insert(schema.programmes).values(programme).onConflictDoNothing().returning();
        if (row && auditorIds.length > 0) {
          await tx
            .insert(schema.programmeAuditors)
            .values(auditorIds.map((auditorId) => ({ programmeId: row.id, auditorId })));
        }
        return row;
      });
    },

    /**
     * 'slug-taken' when the new slug belongs to another programme; undefined when there is no such
     * programme or it is archived (archived programmes are read-only). `auditorIds` replaces the list.
     */
    async updateProgramme(
      id: string,
      patch: ProgrammePatch,
      auditorIds: readonly string[] | undefined,
    ): Promise<ProgrammeRow | 'slug-taken' | undefined> {
      try {
        return await db.transaction(async (tx) => {
          const [row] = await tx
            .update(schema.programmes)
            .set({ ...patch, updatedAt: new Date() })
            .where(and(eq(schema.programmes.id, id), sql`${schema.programmes.status} <> 'ARCHIVED'`))
            .returning();
          // Payments prices orders from published programmes: it hears of every change that reaches them.
          if (row?.status === 'PUBLISHED')
            await recordEvent(tx, tables, ProgrammeUpdated, programmeEventPayload(row));
          if (row && auditorIds) {
            await tx.delete(schema.programmeAuditors).where(eq(schema.programmeAuditors.programmeId, id));
            if (auditorIds.length > 0) {
              await tx
                .insert(schema.programmeAuditors)
                .values(auditorIds.map((auditorId) => ({ programmeId: id, auditorId })));
            }
          }
          return row;
        });
      } catch (error) {
        if (isUniqueViolation(error)) return 'slug-taken';
        throw error;
      }
    },

    /**
     * Moves a programme from one of `from` to `to` and announces it; undefined when it is not in one of
     * them (missing, or moved meanwhile).
     */
    async changeStatus(
      id: string,
      from: readonly ProgrammeStatus[],
      to: ProgrammeStatus,
    ): Promise<ProgrammeRow | undefined> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const [row] = await tx
          .update(schema.programmes)
          .set({
            status: to,
            updatedAt: now,
            ...(to === 'PUBLISHED' ? { publishedAt: now } : {}),
            ...(to === 'ARCHIVED' ? { archivedAt: now } : {}),
          })
          .where(and(eq(schema.programmes.id, id), inArray(schema.programmes.status, [...from])))
          .returning();
        if (row) {
          await recordEvent(
            tx,
            tables,
            to === 'PUBLISHED' ? ProgrammePublished : ProgrammeArchived,
            programmeEventPayload(row),
          );
        }
        return row;
      });
    },

    async findByIds(ids: readonly string[]): Promise<ProgrammeRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(schema.programmes)
        .where(inArray(schema.programmes.id, [...ids]));
    },

    async findBySlug(slug: string): Promise<ProgrammeRow | undefined> {
      const [row] = await db
        .select()
        .from(schema.programmes)
        .where(eq(schema.programmes.slug, slug))
        .limit(1);
      return row;
    },

    /** Auditors of many programmes in one statement, in assignment order. */
    async findAuditors(
      programmeIds: readonly string[],
    ): Promise<Array<{ programmeId: string; auditorId: string }>> {
      if (programmeIds.length === 0) return [];
      return db
        .select({
          programmeId: schema.programmeAuditors.programmeId,
          auditorId: schema.programmeAuditors.auditorId,
        })
        .from(schema.programmeAuditors)
        .where(inArray(schema.programmeAuditors.programmeId, [...programmeIds]))
        .orderBy(asc(schema.programmeAuditors.assignedAt), asc(schema.programmeAuditors.auditorId));
    },

    /** Keyset page, newest first: `limit` rows after the cursor. */
    async listProgrammes(query: ProgrammeListQuery): Promise<ProgrammeRow[]> {
      const conditions: SQL[] = [inArray(schema.programmes.status, [...query.statuses])];
      if (query.search) {
        const pattern = `%${escapeLike(query.search)}%`;
        conditions.push(
          or(ilike(schema.programmes.name, pattern), ilike(schema.programmes.description, pattern))!,
        );
      }
      if (query.after) {
        conditions.push(
          sql`(${schema.programmes.createdAt}, ${schema.programmes.id}) < (${query.after.createdAt.toISOString()}::timestamptz, ${query.after.id}::uuid)`,
        );
      }
      return db
        .select()
        .from(schema.programmes)
        .where(and(...conditions))
        .orderBy(desc(schema.programmes.createdAt), desc(schema.programmes.id))
        .limit(query.limit);
    },
  };
}

export type ProgrammesStorage = ReturnType<typeof createProgrammesStorage>;

export function createProgrammeLoaders(storage: ProgrammesStorage) {
  return {
    programmeById: new DataLoader<string, ProgrammeRow | null>(async (ids) => {
      const byId = new Map((await storage.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    auditorIdsByProgramme: new DataLoader<string, string[]>(async (ids) => {
      const rows = await storage.findAuditors(ids);
      return ids.map((id) => rows.filter((row) => row.programmeId === id).map((row) => row.auditorId));
    }),
  };
}
