import DataLoader from 'dataloader';
import { and, desc, eq, inArray, lte } from 'drizzle-orm';
import { recordEvent, type Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import { tables } from '../courses/courses-storage.js';

export type EnrollmentRow = typeof schema.enrollments.$inferSelect;

export const EnrollmentCompleted = 'learning.EnrollmentCompleted';
export interface EnrollmentCompletedPayload {
  enrollmentId: string;
  userId: string;
  courseId: string;
  completedAt: string;
}

export function createEnrollmentsStorage(db: Db<typeof schema>) {
  return {
    /** undefined when the user is already enrolled in the course. */
    async insertEnrollment(userId: string, courseId: string): Promise<EnrollmentRow | undefined> {
      const [row] = await db
        .insert(schema.enrollments)
        .values({ userId, courseId })
        .onConflictDoNothing()
        .returning();
      return row;
    },

    /**
     * Moves progress forward on an active enrolment; reaching 100 completes it and announces the completion
     * in the same transaction. undefined when the enrolment is missing, not active, or further along.
     */
    async recordProgress(id: string, progress: number): Promise<EnrollmentRow | undefined> {
      return db.transaction(async (tx) => {
        const now = new Date();
        const completed = progress === 100;
        const [row] = await tx
          .update(schema.enrollments)
          .set({
            progress,
            updatedAt: now,
            ...(completed ? { status: 'COMPLETED' as const, completedAt: now } : {}),
          })
          .where(
            and(
              eq(schema.enrollments.id, id),
              eq(schema.enrollments.status, 'ACTIVE'),
              lte(schema.enrollments.progress, progress),
            ),
          )
          .returning();
        if (row && completed) {
          await recordEvent<EnrollmentCompletedPayload>(tx, tables, EnrollmentCompleted, {
            enrollmentId: row.id,
            userId: row.userId,
            courseId: row.courseId,
            completedAt: now.toISOString(),
          });
        }
        return row;
      });
    },

    async findByIds(ids: readonly string[]): Promise<EnrollmentRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(schema.enrollments)
        .where(inArray(schema.enrollments.id, [...ids]));
    },

    async findByUsers(userIds: readonly string[]): Promise<EnrollmentRow[]> {
      if (userIds.length === 0) return [];
      return db
        .select()
        .from(schema.enrollments)
        .where(inArray(schema.enrollments.userId, [...userIds]))
        .orderBy(desc(schema.enrollments.enrolledAt), desc(schema.enrollments.id));
    },
  };
}

export type EnrollmentsStorage = ReturnType<typeof createEnrollmentsStorage>;

export function createEnrollmentLoaders(storage: EnrollmentsStorage) {
  return {
    enrollmentById: new DataLoader<string, EnrollmentRow | null>(async (ids) => {
      const byId = new Map((await storage.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    enrollmentsByUser: new DataLoader<string, EnrollmentRow[]>(async (ids) => {
      const rows = await storage.findByUsers(ids);
      return ids.map((id) => rows.filter((row) => row.userId === id));
    }),
  };
}
