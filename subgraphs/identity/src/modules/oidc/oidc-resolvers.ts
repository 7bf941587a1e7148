import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import { requirePrincipal, type IdentityContext } from '../../context.js';
import { payload } from '../sessions/sessions-resolvers.js';
import { secondFactorRequired } from '../totp/totp-manager.js';

export const oidcResolvers: GraphQLResolverMap<IdentityContext> = {
  Query: {
    oidcProviders: (_: unknown, __: unknown, context: IdentityContext) => context.oidc.providers(),
  },
  Mutation: {
    completeOidcSignIn: (_: unknown, args: { code: string }, context: IdentityContext) =>
      asResult(async () => {
        const { userId, method } = await context.oidc.complete(args.code);
        // With TOTP enabled the provider is only the first factor: no tokens until completeSignIn.
        const challenge = await context.totp.challengeFor(userId, method);
        if (challenge) return { challenge };
        return payload(await context.sessions.startSession(userId, { method, userAgent: context.userAgent }));
      }).then((result) =>
        'challenge' in result && result.challenge ? secondFactorRequired(result.challenge) : result,
      ),
    linkOidcAccount: (
      _: unknown,
      args: { provider: string; returnTo?: string | null },
      context: IdentityContext,
    ) =>
      asResult(async () => ({
        url: await context.oidc.linkUrl(
          requirePrincipal(context).userId,
          args.provider,
          args.returnTo ?? undefined,
        ),
      })),
  },
  User: {
    oidcAccounts: (user: { id: string }, _: unknown, context: IdentityContext) =>
      context.loaders.oidcAccountsByUser.load(user.id),
  },
};
