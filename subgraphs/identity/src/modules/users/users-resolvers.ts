import type { GraphQLResolverMap } from '@symbeon/kernel';
import type { IdentityContext } from '../../context.js';
import type { UserRow } from './users-storage.js';

export const usersResolvers: GraphQLResolverMap<IdentityContext> = {
  Query: {
    user: (_: unknown, args: { id?: string | null; handle?: string | null }, context: IdentityContext) =>
      context.users.findUser(context.loaders, args),
  },
  User: {
    __resolveReference: (reference: { id: string }, context: IdentityContext) =>
      context.users.findUser(context.loaders, { id: reference.id }),
    createdAt: (user: UserRow) => user.createdAt,
  },
};
