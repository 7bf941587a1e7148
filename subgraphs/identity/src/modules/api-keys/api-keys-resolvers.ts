import { asResult, DomainError, ErrorCode, type GraphQLResolverMap } from '@symbeon/kernel';
import type { IdentityContext } from '../../context.js';

export const apiKeysResolvers: GraphQLResolverMap<IdentityContext> = {
  Mutation: {
    createApiKey: (
      _: unknown,
      args: { name: string; tier?: string | null; scopes: string[]; expiresAt?: Date | null },
      context: IdentityContext,
    ) =>
      asResult(async () => {
        const { key, row } = await context.apiKeys.create(context.principal, {
          ...args,
          tier: args.tier ?? 'FREE',
        });
        return { key, apiKey: row };
      }),
    revokeApiKey: (_: unknown, args: { id: string }, context: IdentityContext) =>
      asResult(async () => ({ apiKey: await context.apiKeys.revoke(context.principal, args.id) })),
  },
  User: {
    apiKeys: (user: { id: string }, _: unknown, context: IdentityContext) => {
      if (context.principal?.userId !== user.id) {
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only the user sees their API keys');
      }
      return context.apiKeys.list(user.id);
    },
  },
};
