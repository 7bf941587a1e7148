import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import { requirePrincipal, type IdentityContext } from '../../context.js';
import type { IssuedSession } from './sessions-manager.js';
import type { SessionRow } from './sessions-storage.js';

/** A session as the API shows it; `current` is set when the payload itself is the caller's session. */
type SessionParent = SessionRow & { current?: boolean };

// The tokens were just issued for this session, so it is the one the client now uses.
export const payload = (issued: IssuedSession) => ({
  ...issued,
  session: { ...issued.session, current: true },
});

export const sessionsResolvers: GraphQLResolverMap<IdentityContext> = {
  Query: {
    viewer: (_: unknown, __: unknown, context: IdentityContext) =>
      context.principal ? context.users.findUser(context.loaders, { id: context.principal.userId }) : null,
  },
  Mutation: {
    refreshSession: (_: unknown, args: { refreshToken: string }, context: IdentityContext) =>
      asResult(async () => payload(await context.sessions.refreshSession(args.refreshToken))),
    signOut: (_: unknown, __: unknown, context: IdentityContext) =>
      asResult(async () => {
        await context.sessions.signOut(context.principal);
        return {};
      }),
    revokeSession: (_: unknown, args: { id: string }, context: IdentityContext) =>
      asResult(async () => {
        await context.sessions.revokeSession(args.id, requirePrincipal(context).userId);
        return {};
      }),
  },
  User: {
    // Owner only; an authorization layer (admins, @policy) arrives separately.
    sessions: (user: { id: string }, _: unknown, context: IdentityContext) =>
      context.principal?.userId === user.id ? context.loaders.liveSessionsByUser.load(user.id) : null,
  },
  Session: {
    current: (session: SessionParent, _: unknown, context: IdentityContext) =>
      session.current ??
      (context.principal?.sessionId !== undefined && context.principal.sessionId === session.id),
  },
};
