import { asResult, DomainError, ErrorCode, type GraphQLResolverMap } from '@symbeon/kernel';
import { actingUserId, isOwnerOrAdmin } from '../shared/access.js';
import type { LearningContext } from '../../context.js';
import type { EnrollmentRow } from './enrollments-storage.js';

export const enrollmentsResolvers: GraphQLResolverMap<LearningContext> = {
  Mutation: {
    enrollInCourse: (
      _: unknown,
      args: { courseId: string; userId?: string | null },
      context: LearningContext,
    ) =>
      asResult(async () => ({
        enrollment: await context.enrollments.enroll(
          args.courseId,
          actingUserId(context.principal, args.userId),
        ),
      })),
    recordCourseProgress: (
      _: unknown,
      args: { enrollmentId: string; progress: number },
      context: LearningContext,
    ) =>
      asResult(async () => ({
        enrollment: await context.enrollments.recordProgress(
          args.enrollmentId,
          args.progress,
          context.principal,
        ),
      })),
  },
  Enrollment: {
    __resolveReference: (reference: { id: string }, context: LearningContext) =>
      context.loaders.enrollmentById.load(reference.id),
    user: (enrollment: EnrollmentRow) => ({ __typename: 'User', id: enrollment.userId }),
    course: (enrollment: EnrollmentRow, _: unknown, context: LearningContext) =>
      context.loaders.courseById.load(enrollment.courseId),
  },
  User: {
    enrollments: (user: { id: string }, _: unknown, context: LearningContext) => {
      if (!isOwnerOrAdmin(context.principal, user.id)) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          "Only the user and administrators see a user's enrolments",
        );
      }
      return context.loaders.enrollmentsByUser.load(user.id);
    },
  },
};
