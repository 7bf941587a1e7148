import { rule } from '@symbeon/kernel';
import type { LearningContext } from './context.js';
import { isOwnerOrAdmin } from './modules/shared/access.js';

/** Whose records a caller may read (graphql-shield; see the kernel's applyOwnershipRules). */
export const learningPermissions = {
  User: {
    enrollments: rule({ cache: 'contextual' })((user: { id: string }, _: unknown, context: LearningContext) =>
      isOwnerOrAdmin(context.principal, user.id),
    ),
  },
};
