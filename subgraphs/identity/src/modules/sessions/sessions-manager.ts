import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  DomainError,
  ErrorCode,
  parseInput,
  revokedSessionKey as sessionRevokedKey,
  type Cache,
  type Logger,
} from '@symbeon/kernel';
import { rolesFromGrants } from '../tokens/scopes.js';
import { CLOCK_SKEW_SECONDS, type TokenManager } from '../tokens/tokens-manager.js';
import type { UserRow } from '../users/users-storage.js';
import type { SessionRow, SessionsStorage, SessionTransaction } from './sessions-storage.js';

/** Codes of the expected failures of refreshing (the `error.code` of an AuthPayload). */
export const SessionErrorCode = {
  INVALID_REFRESH_TOKEN: 'INVALID_REFRESH_TOKEN',
  REFRESH_TOKEN_REUSED: 'REFRESH_TOKEN_REUSED',
  SESSION_REVOKED: 'SESSION_REVOKED',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
} as const;

// The key marking a session revoked (written before the revocation commits, kept until every access token
// the session could still hold has expired) is shared with the gateway through the kernel.
export { isSessionRevoked, revokedSessionKey as sessionRevokedKey } from '@symbeon/kernel';

/** The caller as the gateway vouches for it (see principalFromHeaders in context.ts). */
export interface SessionCaller {
  userId: string;
  sessionId?: string;
}

/** What signing in or refreshing hands the client. */
export interface IssuedSession {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires. */
  expiresAt: Date;
  session: SessionRow;
  user: UserRow;
}

export interface SessionConfig {
  sessionTtlSeconds: number;
}

// `rt_` + 32 random bytes in base64url: recognisable in logs and secret scanners, never a JWT.
const REFRESH_TOKEN = /^rt_[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const startInput = z.object({
  method: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
  // A header value, not the user's words: cut rather than refused.
  userAgent: z
    .string()
    .nullish()
    .transform((value) => value?.slice(0, 512) || null),
});

export type StartSessionInput = z.input<typeof startInput>;

function newRefreshToken() {
  const token = `rt_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashRefreshToken(token) };
}

/** Only this hash is stored: a database leak does not hand out sessions. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface SessionsManagerDeps {
  storage: SessionsStorage;
  tokens: TokenManager;
  cache: Cache;
  config: SessionConfig;
  logger?: Logger;
  /** The clock; tests move it. Give the token manager the same one. */
  now?: () => Date;
}

export function createSessionsManager(deps: SessionsManagerDeps) {
  const { storage, tokens, cache, config } = deps;
  const clock = deps.now ?? (() => new Date());
  // An access token issued just before the revocation lives this long at most (plus verifiers' skew).
  const revokedMarkerMs = (tokens.config.accessTokenTtlSeconds + CLOCK_SKEW_SECONDS) * 1000;

  /** Inside the revoking transaction, before it commits: a failed write aborts the revocation. */
  async function announceRevoked(session: SessionRow) {
    await cache.set(sessionRevokedKey(session.id), (session.revokedAt ?? clock()).toISOString(), {
      ttlMs: revokedMarkerMs,
    });
  }

  /** A new refresh token and access token for a locked, live session. */
  async function issue(
    tx: SessionTransaction,
    signer: Awaited<ReturnType<TokenManager['signer']>>,
    session: SessionRow,
    now: Date,
  ): Promise<IssuedSession> {
    const user = await tx.findUser(session.userId);
    if (!user) throw new Error(`session ${session.id} belongs to missing user ${session.userId}`);
    const refresh = newRefreshToken();
    await tx.insertRefreshToken({
      tokenHash: refresh.hash,
      sessionId: session.id,
      createdAt: now,
      expiresAt: session.expiresAt,
    });
    const access = await signer.sign({
      userId: user.id,
      sessionId: session.id,
      roles: rolesFromGrants(await tx.findRoleGrants(user.id)),
      notAfter: session.expiresAt,
    });
    return {
      accessToken: access.token,
      refreshToken: refresh.token,
      expiresAt: access.expiresAt,
      session,
      user,
    };
  }

  return {
    /**
     * Opens a session for a user who has just proven who they are (SIWE, OIDC...). The caller has done the
     * proving; this only records the session and issues its first tokens.
     */
    async startSession(userId: string, input: StartSessionInput): Promise<IssuedSession> {
      const { method, userAgent } = parseInput(startInput, input);
      if (!UUID.test(userId))
        throw new DomainError(ErrorCode.NOT_FOUND, `No user with id "${userId}"`, 'userId');
      // Prepared first: a key problem then changes nothing, and signing needs no statement of its own.
      const signer = await tokens.signer();
      const now = clock();
      return storage.transaction(async (tx) => {
        if (!(await tx.findUser(userId))) {
          throw new DomainError(ErrorCode.NOT_FOUND, `No user with id "${userId}"`, 'userId');
        }
        const session = await tx.insertSession({
          userId,
          method,
          userAgent,
          createdAt: now,
          lastUsedAt: now,
          expiresAt: new Date(now.getTime() + config.sessionTtlSeconds * 1000),
        });
        return issue(tx, signer, session, now);
      });
    },

    /**
     * Trades a refresh token for new tokens. Each refresh token works once; presenting a used one means it
     * was copied, so the whole session (the token family) is revoked. The token row is locked, so of two
     * concurrent uses one rotates it and the other finds it used.
     */
    async refreshSession(refreshToken: string): Promise<IssuedSession> {
      if (!REFRESH_TOKEN.test(refreshToken)) {
        throw new DomainError(
          SessionErrorCode.INVALID_REFRESH_TOKEN,
          'Unknown refresh token',
          'refreshToken',
        );
      }
      const signer = await tokens.signer();
      const now = clock();
      // Failures that change state (reuse revokes the session) must commit: they are returned, not thrown.
      const outcome = await storage.transaction(
        async (tx): Promise<{ issued: IssuedSession } | { refused: DomainError }> => {
          const refuse = (code: string, message: string) => ({
            refused: new DomainError(code, message, 'refreshToken'),
          });
          const token = await tx.lockRefreshToken(hashRefreshToken(refreshToken));
          if (!token) return refuse(SessionErrorCode.INVALID_REFRESH_TOKEN, 'Unknown refresh token');
          const session = await tx.lockSession(token.sessionId);
          if (!session) throw new Error(`refresh token of missing session ${token.sessionId}`);
          if (token.usedAt) {
            const revoked = await tx.revokeSession(session.id, now, 'refresh token reuse');
            if (revoked) {
              await announceRevoked(revoked);
              deps.logger?.warn({ sessionId: session.id }, 'refresh token reused: session revoked');
            }
            return refuse(
              SessionErrorCode.REFRESH_TOKEN_REUSED,
              'This refresh token was already used; the session is revoked, sign in again',
            );
          }
          if (session.revokedAt) return refuse(SessionErrorCode.SESSION_REVOKED, 'The session was revoked');
          if (session.expiresAt <= now || token.expiresAt <= now) {
            return refuse(SessionErrorCode.SESSION_EXPIRED, 'The session has expired, sign in again');
          }
          await tx.markRefreshTokenUsed(token.tokenHash, now);
          const touched = await tx.touchSession(session.id, now);
          return { issued: await issue(tx, signer, touched, now) };
        },
      );
      if ('refused' in outcome) throw outcome.refused;
      return outcome.issued;
    },

    /**
     * Revokes a session of the caller's. Its refresh token stops at once, and its access tokens as soon as
     * the gateway sees the revocation marker. Revoking a revoked session succeeds and changes nothing.
     * (An admin override arrives with the authorization layer.)
     */
    async revokeSession(
      sessionId: string,
      byUserId: string,
      reason = 'revoked by its user',
    ): Promise<SessionRow> {
      const notFound = () => new DomainError(ErrorCode.NOT_FOUND, `No session with id "${sessionId}"`, 'id');
      if (!UUID.test(sessionId)) throw notFound();
      return storage.transaction(async (tx) => {
        const session = await tx.lockSession(sessionId);
        if (!session) throw notFound();
        if (session.userId !== byUserId) {
          throw new DomainError(ErrorCode.FORBIDDEN, 'Only its owner can revoke a session', 'id');
        }
        if (session.revokedAt) return session;
        const revoked = await tx.revokeSession(sessionId, clock(), reason);
        if (!revoked) throw new Error(`session ${sessionId} was revoked under its lock`);
        await announceRevoked(revoked);
        return revoked;
      });
    },

    /** Revokes the session the caller is using. */
    async signOut(caller: SessionCaller | undefined): Promise<SessionRow> {
      if (!caller) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
      if (!caller.sessionId) {
        throw new DomainError(ErrorCode.INVALID_STATE, 'The caller is not using a session (an API key?)');
      }
      return this.revokeSession(caller.sessionId, caller.userId, 'signed out');
    },
  };
}

export type SessionsManager = ReturnType<typeof createSessionsManager>;
