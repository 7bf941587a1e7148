import DataLoader from 'dataloader';
import {
  and,
  arrayContains,
  desc,
  eq,
  ilike,
  inArray,
  isNotNull,
  isNull,
  or,
  sql,
  type SQL,
} from 'drizzle-orm';
import { recordEvent, type Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

export type LearningDb = Db<typeof schema>;
export type CourseRow = typeof schema.courses.$inferSelect;
export type NewCourse = Omit<
  typeof schema.courses.$inferInsert,
  'id' | 'createdAt' | 'updatedAt' | 'publishedAt'
>;
export type CoursePatch = Partial<NewCourse>;
export type Publication = 'PUBLISHED' | 'DRAFT' | 'ANY';

export interface CourseListQuery {
  limit: number;
  after?: { createdAt: Date; id: string } | undefined;
  level?: CourseRow['level'] | undefined;
  tag?: string | undefined;
  instructorId?: string | undefined;
  search?: string | undefined;
  status: Publication;
}

export const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };
export const CoursePublished = 'learning.CoursePublished';

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

export function createCoursesStorage(db: LearningDb) {
  return {
    /** undefined when the slug is taken. */
    async insertCourse(course: NewCourse): Promise<CourseRow | undefined> {
      const [row] = await db.insert(schema.courses).values(course).onConflictDoNothing().returning();
      return row;
    },

    /** 'slug-taken' when the new slug belongs to another course; undefined when there is no such course. */
    async updateCourse(id: string, patch: CoursePatch): Promise<CourseRow | 'slug-taken' | undefined> {
      try {
        const [row] = await db
          .update(schema.courses)
          .set({ ...patch, updatedAt: new Date() })
          .where(eq(schema.courses.id, id))
          .returning();
        return row;
      } catch (error) {
        if (isUniqueViolation(error)) return 'slug-taken';
        throw error;
      }
    },

    /** Publishes a draft and announces it; undefined when the course is missing or already published. */
    async publishCourse(id: string): Promise<CourseRow | undefined> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const [row] = await tx
          .update(schema.courses)
          .set({ publishedAt: now, updatedAt: now })
          .where(and(eq(schema.courses.id, id), isNull(schema.courses.publishedAt)))
          .returning();
        if (row) {
          await recordEvent(tx, tables, CoursePublished, {
            courseId: row.id,
            slug: row.slug,
            instructorId: row.instructorId,
          });
        }
        return row;
      });
    },

    async findByIds(ids: readonly string[]): Promise<CourseRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(schema.courses)
        .where(inArray(schema.courses.id, [...ids]));
    },

    async findBySlug(slug: string): Promise<CourseRow | undefined> {
      const [row] = await db.select().from(schema.courses).where(eq(schema.courses.slug, slug)).limit(1);
      return row;
    },

    /** Keyset page, newest first: `limit` rows after the cursor. */
    async listCourses(query: CourseListQuery): Promise<CourseRow[]> {
      const conditions: SQL[] = [];
      if (query.status === 'PUBLISHED') conditions.push(isNotNull(schema.courses.publishedAt));
      if (query.status === 'DRAFT') conditions.push(isNull(schema.courses.publishedAt));
      if (query.level) conditions.push(eq(schema.courses.level, query.level));
      if (query.tag) conditions.push(arrayContains(schema.courses.tags, [query.tag]));
      if (query.instructorId) conditions.push(eq(schema.courses.instructorId, query.instructorId));
      if (query.search) {
        const pattern = `%${escapeLike(query.search)}%`;
        conditions.push(or(ilike(schema.courses.title, pattern), ilike(schema.courses.summary, pattern))!);
      }
      if (query.after) {
        conditions.push(
          sql`(${schema.courses.createdAt}, ${schema.courses.id}) < (${query.after.createdAt.toISOString()}::timestamptz, ${query.after.id}::uuid)`,
        );
      }
      return db
        .select()
        .from(schema.courses)
        .where(and(...conditions))
        .orderBy(desc(schema.courses.createdAt), desc(schema.courses.id))
        .limit(query.limit);
    },

    /** Published courses of many instructors in one statement. */
    async findPublishedByInstructors(instructorIds: readonly string[]): Promise<CourseRow[]> {
      if (instructorIds.length === 0) return [];
      return db
        .select()
        .from(schema.courses)
        .where(
          and(
            inArray(schema.courses.instructorId, [...instructorIds]),
            isNotNull(schema.courses.publishedAt),
          ),
        )
        .orderBy(desc(schema.courses.createdAt), desc(schema.courses.id));
    },
  };
}

export type CoursesStorage = ReturnType<typeof createCoursesStorage>;

export function createCourseLoaders(storage: CoursesStorage) {
  return {
    courseById: new DataLoader<string, CourseRow | null>(async (ids) => {
      const byId = new Map((await storage.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    coursesByInstructor: new DataLoader<string, CourseRow[]>(async (ids) => {
      const rows = await storage.findPublishedByInstructors(ids);
      return ids.map((id) => rows.filter((row) => row.instructorId === id));
    }),
  };
}
