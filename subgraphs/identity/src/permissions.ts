import { rule } from '@symbeon/kernel';
import type { IdentityContext } from './context.js';

/** The caller is this user. */
const isSelf = rule({ cache: 'contextual' })(
  (user: { id: string }, _: unknown, context: IdentityContext) => context.principal?.userId === user.id,
);

/** The caller is this user, or an administrator. */
const isSelfOrAdmin = rule({ cache: 'contextual' })(
  (user: { id: string }, _: unknown, context: IdentityContext) =>
    context.principal?.userId === user.id || (context.principal?.roles.includes('ADMIN') ?? false),
);

/** Whose records a caller may read (graphql-shield; see the kernel's applyOwnershipRules). */
export const identityPermissions = {
  User: {
    sessions: isSelf,
    apiKeys: isSelf,
    totpEnabled: isSelf,
    oidcAccounts: isSelf,
    roles: isSelfOrAdmin,
  },
};
