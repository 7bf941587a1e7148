import { asResult, DomainError, ErrorCode, type GraphQLResolverMap } from '@symbeon/kernel';
import type { IdentityContext } from '../../context.js';
import type { RoleChangeRow } from './roles-storage.js';

const isAdmin = (context: IdentityContext) => context.principal?.roles.includes('ADMIN') ?? false;

export const rolesResolvers: GraphQLResolverMap<IdentityContext> = {
  Query: {
    roleChanges: (_: unknown, args: { userId: string; first?: number | null }, context: IdentityContext) =>
      context.roles.history(context.principal, args.userId, args.first ?? 50),
  },
  Mutation: {
    grantRole: (
      _: unknown,
      args: { userId: string; role: string; reason?: string | null },
      context: IdentityContext,
    ) =>
      asResult(async () => {
        const { userId } = await context.roles.grant(context.principal, args);
        return { user: await context.users.findUser(context.loaders, { id: userId }) };
      }),
    revokeRole: (
      _: unknown,
      args: { userId: string; role: string; reason?: string | null },
      context: IdentityContext,
    ) =>
      asResult(async () => {
        const { userId } = await context.roles.revoke(context.principal, args);
        return { user: await context.users.findUser(context.loaders, { id: userId }) };
      }),
  },
  User: {
    // The user's own roles, and anyone's for administrators: others learn nothing (not even who is admin).
    roles: async (user: { id: string }, _: unknown, context: IdentityContext) => {
      if (context.principal?.userId !== user.id && !isAdmin(context)) {
        throw new DomainError(ErrorCode.FORBIDDEN, "Only the user and administrators see a user's roles");
      }
      return context.roles.rolesOf(user.id);
    },
  },
  RoleChange: {
    actor: (change: RoleChangeRow, _: unknown, context: IdentityContext) =>
      change.actorId ? context.users.findUser(context.loaders, { id: change.actorId }) : null,
  },
};
