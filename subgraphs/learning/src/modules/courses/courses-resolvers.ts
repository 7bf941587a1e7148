import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { LearningContext } from '../../context.js';
import type { CourseFilterInput } from './courses-manager.js';
import type { CourseRow } from './courses-storage.js';
import { canWriteLearning } from '../shared/access.js';

export const coursesResolvers: GraphQLResolverMap<LearningContext> = {
  Query: {
    courses: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: CourseFilterInput | null },
      context: LearningContext,
    ) => context.courses.listCourses(args, canWriteLearning(context.principal)),
    course: (_: unknown, args: { id?: string | null; slug?: string | null }, context: LearningContext) =>
      context.courses.findCourse(args, canWriteLearning(context.principal)),
  },
  Mutation: {
    createCourse: (_: unknown, args: { input: unknown }, context: LearningContext) =>
      asResult(async () => ({ course: await context.courses.createCourse(args.input) })),
    updateCourse: (_: unknown, args: { id: string; input: unknown }, context: LearningContext) =>
      asResult(async () => ({ course: await context.courses.updateCourse(args.id, args.input) })),
    publishCourse: (_: unknown, args: { id: string }, context: LearningContext) =>
      asResult(async () => ({ course: await context.courses.publishCourse(args.id) })),
  },
  Course: {
    __resolveReference: (reference: { id: string }, context: LearningContext) =>
      context.loaders.courseById.load(reference.id),
    instructor: (course: CourseRow) => ({ __typename: 'User', id: course.instructorId }),
  },
  User: {
    coursesTaught: (user: { id: string }, _: unknown, context: LearningContext) =>
      context.loaders.coursesByInstructor.load(user.id),
  },
};
