import { z } from 'zod';
import { DomainError, ErrorCode, type Principal } from '@symbeon/kernel';
import { isOwnerOrAdmin } from '../shared/access.js';
import type { CoursesStorage } from '../courses/courses-storage.js';
import type { KnownUsersStorage } from '../known-users/known-users-storage.js';
import { parseInput, requireUuid } from '../shared/validation.js';
import type { EnrollmentRow, EnrollmentsStorage } from './enrollments-storage.js';

const progressInput = z
  .number()
  .int('must be a whole number')
  .min(0, 'must be at least 0')
  .max(100, 'must be at most 100');

export function createEnrollmentsManager(
  enrollments: EnrollmentsStorage,
  courses: CoursesStorage,
  knownUsers: KnownUsersStorage,
) {
  return {
    async enroll(courseId: string, userId: string): Promise<EnrollmentRow> {
      requireUuid(courseId, 'course', 'courseId');
      requireUuid(userId, 'user', 'userId');
      const [course] = await courses.findByIds([courseId]);
      if (!course) throw new DomainError(ErrorCode.NOT_FOUND, `No course with id "${courseId}"`, 'courseId');
      if (!course.publishedAt)
        throw new DomainError(ErrorCode.INVALID_STATE, 'The course is not published', 'courseId');
      const known = await knownUsers.findExisting([userId]);
      if (!known.has(userId))
        throw new DomainError(ErrorCode.NOT_FOUND, `No user with id "${userId}"`, 'userId');
      const row = await enrollments.insertEnrollment(userId, courseId);
      if (!row)
        throw new DomainError(ErrorCode.CONFLICT, 'The user is already enrolled in this course', 'courseId');
      return row;
    },

    /** Only the learner (or an administrator) records progress on an enrolment. */
    async recordProgress(enrollmentId: string, progress: number, actor: Principal): Promise<EnrollmentRow> {
      requireUuid(enrollmentId, 'enrolment', 'enrollmentId');
      const value = parseInput(progressInput, progress, 'progress');
      const [owned] = await enrollments.findByIds([enrollmentId]);
      if (owned && !isOwnerOrAdmin(actor, owned.userId)) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          'Only the learner records progress on an enrolment',
          'enrollmentId',
        );
      }
      const updated = await enrollments.recordProgress(enrollmentId, value);
      if (updated) return updated;
      const [existing] = await enrollments.findByIds([enrollmentId]);
      if (!existing)
        throw new DomainError(ErrorCode.NOT_FOUND, `No enrolment with id "${enrollmentId}"`, 'enrollmentId');
      if (existing.status !== 'ACTIVE') {
        throw new DomainError(
          ErrorCode.INVALID_STATE,
          `The enrolment is ${existing.status.toLowerCase()}`,
          'enrollmentId',
        );
      }
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `progress: must not go back (it is ${existing.progress})`,
        'progress',
      );
    },
  };
}

export type EnrollmentsManager = ReturnType<typeof createEnrollmentsManager>;
