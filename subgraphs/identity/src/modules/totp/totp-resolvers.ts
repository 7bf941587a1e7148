import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import { requirePrincipal, type IdentityContext } from '../../context.js';
import { payload } from '../sessions/sessions-resolvers.js';

export const totpResolvers: GraphQLResolverMap<IdentityContext> = {
  Mutation: {
    enrollTotp: (_: unknown, __: unknown, context: IdentityContext) =>
      asResult(() => context.totp.enroll(requirePrincipal(context).userId)),
    confirmTotp: (_: unknown, args: { code: string }, context: IdentityContext) =>
      asResult(() => context.totp.confirm(requirePrincipal(context).userId, args.code)),
    disableTotp: (_: unknown, args: { code: string }, context: IdentityContext) =>
      asResult(async () => {
        await context.totp.disable(requirePrincipal(context).userId, args.code);
        return {};
      }),
    completeSignIn: (_: unknown, args: { challenge: string; code: string }, context: IdentityContext) =>
      asResult(async () => {
        const { userId, method } = await context.totp.completeChallenge(args.challenge, args.code);
        return payload(await context.sessions.startSession(userId, { method, userAgent: context.userAgent }));
      }),
  },
  User: {
    // The user's own security setting: not something to reveal about others.
    totpEnabled: (user: { id: string }, _: unknown, context: IdentityContext) =>
      context.principal?.userId === user.id ? context.totp.isEnabled(user.id) : null,
  },
};
