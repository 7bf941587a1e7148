import { randomBytes, randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createMemoryCache, createSecretBox, parseSecretKey, type Cache } from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { eq } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type IdentityModules, createContext, type Principal } from '../../context.js';
import * as schema from '../../db/schema.js';
import { identityMigrations } from '../../service.js';
import { createTokenManager, type TokenManager } from '../tokens/tokens-manager.js';
import { createTokensStorage } from '../tokens/tokens-storage.js';
import { createUsersManager } from '../users/users-manager.js';
import { createUsersStorage, type UserRow } from '../users/users-storage.js';
import {
  createSessionsManager,
  hashRefreshToken,
  isSessionRevoked,
  sessionRevokedKey,
  type SessionsManager,
} from './sessions-manager.js';
import { sessionsResolvers } from './sessions-resolvers.js';
import { createSessionsStorage } from './sessions-storage.js';

const ACCESS_TTL = 900;
const SESSION_TTL = 7 * 24 * 3600;

let database: TestDatabase<typeof schema>;
let now: Date;
const clock = () => new Date(now);
let tokens: TokenManager;
let cache: Cache;
let sessions: SessionsManager;
let ada: UserRow;
let grace: UserRow;
let handles = 0;

beforeAll(async () => {
  database = await openTestDatabase({ schemaName: 'identity', migrationsFolder: identityMigrations, schema });
  now = new Date('2026-12-01T00:00:00.000Z');
  const box = createSecretBox(parseSecretKey(`k1:${randomBytes(32).toString('base64')}`));
  tokens = createTokenManager({
    storage: createTokensStorage(database.db),
    box,
    now: clock,
    config: {
      issuer: 'http://localhost:8000',
      audience: 'symbeon-api',
      accessTokenTtlSeconds: ACCESS_TTL,
      keyPublishLeadSeconds: 600,
      // Long enough that no test crosses a rotation; tokens.test.ts covers rotation.
      keyRotationIntervalSeconds: 365 * 24 * 3600,
    },
  });
  await tokens.rotateKeys();
});

afterAll(async () => {
  await database?.close();
});

beforeEach(async () => {
  cache = createMemoryCache();
  sessions = createSessionsManager({
    storage: createSessionsStorage(database.db),
    tokens,
    cache,
    now: clock,
    config: { sessionTtlSeconds: SESSION_TTL },
  });
  const users = createUsersManager(createUsersStorage(database.db));
  handles += 1;
  ada = await users.createUser({ handle: `ada-${handles}`, displayName: 'Ada' });
  grace = await users.createUser({ handle: `grace-${handles}`, displayName: 'Grace' });
});

async function verify(token: string) {
  const { payload } = await jwtVerify(token, createLocalJWKSet(await tokens.jwks()), {
    algorithms: ['RS256'],
    issuer: 'http://localhost:8000',
    audience: 'symbeon-api',
    currentDate: clock(),
  });
  return payload;
}

async function sessionRow(id: string) {
  const [row] = await database.db.select().from(schema.sessions).where(eq(schema.sessions.id, id));
  return row!;
}

async function refreshRows(sessionId: string) {
  return database.db.select().from(schema.refreshTokens).where(eq(schema.refreshTokens.sessionId, sessionId));
}

describe('startSession', () => {
  it('opens a session with an access token for it and a refresh token stored only as its hash', async () => {
    const started = await sessions.startSession(ada.id, { method: 'SIWE', userAgent: 'vitest' });
    expect(started.user).toEqual(ada);
    expect(started.session).toMatchObject({
      userId: ada.id,
      method: 'SIWE',
      userAgent: 'vitest',
      createdAt: clock(),
      lastUsedAt: clock(),
      expiresAt: new Date(now.getTime() + SESSION_TTL * 1000),
      revokedAt: null,
    });
    const claims = await verify(started.accessToken);
    expect(claims).toMatchObject({ sub: ada.id, sid: started.session.id, roles: ['MEMBER'], tier: 'FREE' });
    expect(started.expiresAt).toEqual(new Date(now.getTime() + ACCESS_TTL * 1000));

    expect(started.refreshToken).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    const rows = await refreshRows(started.session.id);
    expect(rows).toEqual([
      {
        tokenHash: hashRefreshToken(started.refreshToken),
        sessionId: started.session.id,
        createdAt: clock(),
        expiresAt: started.session.expiresAt,
        usedAt: null,
      },
    ]);
    expect(rows[0]!.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).not.toContain(started.refreshToken.slice(3));
  });

  it('puts granted roles and their scopes in the token', async () => {
    await database.db.insert(schema.roleGrants).values({ userId: grace.id, role: 'AUDITOR' });
    const started = await sessions.startSession(grace.id, { method: 'OIDC:test' });
    const claims = await verify(started.accessToken);
    expect(claims.roles).toEqual(['MEMBER', 'AUDITOR']);
    expect(claims.scopes).toEqual([
      'certificates:audit',
      'certificates:read',
      'learning:enroll',
      'profile:read',
      'profile:write',
    ]);
  });

  it('refuses an unknown user and a bad method, creating nothing', async () => {
    const before = await database.db.select().from(schema.sessions);
    await expect(sessions.startSession(randomUUID(), { method: 'SIWE' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(sessions.startSession('nope', { method: 'SIWE' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(sessions.startSession(ada.id, { method: ' ' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.method',
    });
    expect(await database.db.select().from(schema.sessions)).toHaveLength(before.length);
  });
});

describe('refreshSession', () => {
  it('rotates the refresh token, and a reused one revokes the whole session, so the new one is refused too', async () => {
    const started = await sessions.startSession(ada.id, { method: 'SIWE' });
    now = new Date(now.getTime() + 60_000);
    const refreshed = await sessions.refreshSession(started.refreshToken);
    expect(refreshed.refreshToken).not.toBe(started.refreshToken);
    expect(refreshed.accessToken).not.toBe(started.accessToken);
    expect(refreshed.session).toMatchObject({ id: started.session.id, lastUsedAt: clock() });
    expect(refreshed.user.id).toBe(ada.id);
    expect(await verify(refreshed.accessToken)).toMatchObject({ sid: started.session.id, sub: ada.id });
    const rows = await refreshRows(started.session.id);
    expect(rows.find((row) => row.tokenHash === hashRefreshToken(started.refreshToken))?.usedAt).toEqual(
      clock(),
    );
    expect(rows.find((row) => row.tokenHash === hashRefreshToken(refreshed.refreshToken))?.usedAt).toBeNull();
    expect(await isSessionRevoked(cache, started.session.id)).toBe(false);

    // The old token again: someone copied it. The family is revoked.
    await expect(sessions.refreshSession(started.refreshToken)).rejects.toMatchObject({
      code: 'REFRESH_TOKEN_REUSED',
      field: 'refreshToken',
    });
    expect(await sessionRow(started.session.id)).toMatchObject({
      revokedAt: clock(),
      revokedReason: 'refresh token reuse',
    });
    expect(await isSessionRevoked(cache, started.session.id)).toBe(true);
    await expect(sessions.refreshSession(refreshed.refreshToken)).rejects.toMatchObject({
      code: 'SESSION_REVOKED',
    });
    // Presenting the used token once more changes nothing further.
    await expect(sessions.refreshSession(started.refreshToken)).rejects.toMatchObject({
      code: 'REFRESH_TOKEN_REUSED',
    });
    expect((await sessionRow(started.session.id)).revokedReason).toBe('refresh token reuse');
    expect(await refreshRows(started.session.id)).toHaveLength(2);
  });

  it('refuses unknown and malformed tokens with INVALID_REFRESH_TOKEN', async () => {
    const unknown = `rt_${randomBytes(32).toString('base64url')}`;
    await expect(sessions.refreshSession(unknown)).rejects.toMatchObject({ code: 'INVALID_REFRESH_TOKEN' });
    await expect(sessions.refreshSession('not-a-token')).rejects.toMatchObject({
      code: 'INVALID_REFRESH_TOKEN',
    });
    await expect(sessions.refreshSession('')).rejects.toMatchObject({ code: 'INVALID_REFRESH_TOKEN' });
  });

  it('refuses an expired session and changes nothing; access tokens never outlive the session', async () => {
    const started = await sessions.startSession(ada.id, { method: 'SIWE' });
    const end = started.session.expiresAt;
    now = new Date(end.getTime() - 60_000);
    const late = await sessions.refreshSession(started.refreshToken);
    expect(late.expiresAt).toEqual(end);
    expect((await verify(late.accessToken)).exp).toBe(end.getTime() / 1000);

    now = new Date(end);
    await expect(sessions.refreshSession(late.refreshToken)).rejects.toMatchObject({
      code: 'SESSION_EXPIRED',
    });
    const rows = await refreshRows(started.session.id);
    expect(rows.find((row) => row.tokenHash === hashRefreshToken(late.refreshToken))?.usedAt).toBeNull();
    expect((await sessionRow(started.session.id)).revokedAt).toBeNull();
  });

  it('of two concurrent refreshes with one token, exactly one succeeds', async () => {
    // Each transaction dawdles after reading the token, so both are open at once: only the row lock can
    // keep the second from reading the token as unused.
    const storage = createSessionsStorage(database.db);
    const dawdling: typeof storage = {
      ...storage,
      transaction: (body) =>
        storage.transaction((tx) =>
          body({
            ...tx,
            lockRefreshToken: async (hash) => {
              const row = await tx.lockRefreshToken(hash);
              await new Promise((resolve) => setTimeout(resolve, 150));
              return row;
            },
          }),
        ),
    };
    const racing = createSessionsManager({
      storage: dawdling,
      tokens,
      cache,
      now: clock,
      config: { sessionTtlSeconds: SESSION_TTL },
    });
    const started = await racing.startSession(ada.id, { method: 'SIWE' });
    const results = await Promise.allSettled([
      racing.refreshSession(started.refreshToken),
      racing.refreshSession(started.refreshToken),
    ]);
    const succeeded = results.filter((result) => result.status === 'fulfilled');
    const failed = results.filter((result) => result.status === 'rejected');
    expect(succeeded).toHaveLength(1);
    expect(failed).toHaveLength(1);
    // The loser presented a token that had just been used: that is reuse, and the session is revoked.
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'REFRESH_TOKEN_REUSED' });
    const rows = await refreshRows(started.session.id);
    expect(rows).toHaveLength(2);
    expect(rows.filter((row) => row.usedAt !== null)).toHaveLength(1);
    expect((await sessionRow(started.session.id)).revokedReason).toBe('refresh token reuse');
  });
});

describe('revokeSession and signOut', () => {
  it("refuses another user's session with FORBIDDEN and changes nothing", async () => {
    const started = await sessions.startSession(ada.id, { method: 'SIWE' });
    const before = await sessionRow(started.session.id);
    await expect(sessions.revokeSession(started.session.id, grace.id)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      field: 'id',
    });
    expect(await sessionRow(started.session.id)).toEqual(before);
    expect(await isSessionRevoked(cache, started.session.id)).toBe(false);
    await expect(sessions.refreshSession(started.refreshToken)).resolves.toMatchObject({
      user: { id: ada.id },
    });
  });

  it('revokes at once: the refresh token stops, and the revocation marker outlives every access token', async () => {
    const started = await sessions.startSession(ada.id, { method: 'SIWE' });
    const revoked = await sessions.revokeSession(started.session.id, ada.id);
    expect(revoked).toMatchObject({
      id: started.session.id,
      revokedAt: clock(),
      revokedReason: 'revoked by its user',
    });
    const key = sessionRevokedKey(started.session.id);
    expect(key).toBe(`session:revoked:${started.session.id}`);
    expect(await cache.get(key)).toBe(clock().toISOString());
    expect(await cache.ttl(key)).toBeGreaterThanOrEqual(ACCESS_TTL * 1000);
    expect(await isSessionRevoked(cache, started.session.id)).toBe(true);
    await expect(sessions.refreshSession(started.refreshToken)).rejects.toMatchObject({
      code: 'SESSION_REVOKED',
    });
    // Revoking again succeeds and keeps the first revocation.
    now = new Date(now.getTime() + 1000);
    expect((await sessions.revokeSession(started.session.id, ada.id)).revokedAt).toEqual(revoked.revokedAt);
  });

  it('reports unknown sessions as NOT_FOUND', async () => {
    await expect(sessions.revokeSession(randomUUID(), ada.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(sessions.revokeSession('nope', ada.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('signOut revokes the current session only, and needs a signed-in caller with a session', async () => {
    const current = await sessions.startSession(ada.id, { method: 'SIWE' });
    const other = await sessions.startSession(ada.id, { method: 'SIWE' });
    await sessions.signOut({ userId: ada.id, sessionId: current.session.id });
    expect((await sessionRow(current.session.id)).revokedReason).toBe('signed out');
    expect((await sessionRow(other.session.id)).revokedAt).toBeNull();
    expect(await isSessionRevoked(cache, current.session.id)).toBe(true);
    expect(await isSessionRevoked(cache, other.session.id)).toBe(false);
    await expect(sessions.signOut(undefined)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(sessions.signOut({ userId: ada.id })).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });
});

describe('resolvers', () => {
  // Called directly: over HTTP the caller arrives only through the gateway's internal token.
  const resolve = (type: string, name: string) =>
    (sessionsResolvers[type] as Record<string, (...args: unknown[]) => unknown>)[name]!;

  function contextFor(principal?: Principal) {
    const usersStorage = createUsersStorage(database.db);
    const sessionsStorage = createSessionsStorage(database.db);
    return createContext(
      {
        logger: pino({ level: 'silent' }),
        usersStorage,
        users: createUsersManager(usersStorage),
        sessionsStorage,
        sessions,
        // Not used by the session resolvers under test.
        ...({} as Pick<
          IdentityModules,
          'walletsStorage' | 'wallets' | 'roles' | 'apiKeys' | 'totp' | 'oidcStorage' | 'oidc'
        >),
      },
      { requestId: 'test', principal },
    );
  }

  it('viewer is the caller, and null for anonymous callers', async () => {
    expect(await resolve('Query', 'viewer')({}, {}, contextFor())).toBeNull();
    const caller = { userId: ada.id, roles: ['MEMBER'], scopes: [] };
    expect(await resolve('Query', 'viewer')({}, {}, contextFor(caller))).toEqual(ada);
  });

  it("lists a user's sessions to that user only, marking the current one", async () => {
    const current = await sessions.startSession(ada.id, { method: 'SIWE' });
    const other = await sessions.startSession(ada.id, { method: 'OIDC:test' });
    const owner = contextFor({ userId: ada.id, sessionId: current.session.id, roles: [], scopes: [] });
    const listed = (await resolve('User', 'sessions')(ada, {}, owner)) as Array<{ id: string }>;
    expect(listed.map((session) => session.id)).toEqual(
      expect.arrayContaining([current.session.id, other.session.id]),
    );
    const currentFlags = listed.map((session) => resolve('Session', 'current')(session, {}, owner));
    expect(currentFlags.filter(Boolean)).toHaveLength(1);
    expect(resolve('Session', 'current')(current.session, {}, owner)).toBe(true);

    const stranger = contextFor({ userId: grace.id, roles: [], scopes: [] });
    expect(await resolve('User', 'sessions')(ada, {}, stranger)).toBeNull();
    expect(await resolve('User', 'sessions')(ada, {}, contextFor())).toBeNull();
  });

  it('answers mutations with { ok, error } payloads', async () => {
    const started = await sessions.startSession(ada.id, { method: 'SIWE' });
    const anonymous = contextFor();
    const refreshed = (await resolve('Mutation', 'refreshSession')(
      {},
      { refreshToken: started.refreshToken },
      anonymous,
    )) as Record<string, any>;
    expect(refreshed).toMatchObject({ ok: true, error: null, user: { id: ada.id } });
    expect(refreshed.session).toMatchObject({ id: started.session.id, current: true });
    expect(resolve('Session', 'current')(refreshed.session, {}, anonymous)).toBe(true);
    expect(await resolve('Mutation', 'refreshSession')({}, { refreshToken: 'rt_nope' }, anonymous)).toEqual({
      ok: false,
      error: { code: 'INVALID_REFRESH_TOKEN', message: 'Unknown refresh token', field: 'refreshToken' },
    });
    expect(
      await resolve('Mutation', 'revokeSession')({}, { id: started.session.id }, anonymous),
    ).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHENTICATED' },
    });
    const stranger = contextFor({ userId: grace.id, roles: [], scopes: [] });
    expect(
      await resolve('Mutation', 'revokeSession')({}, { id: started.session.id }, stranger),
    ).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    const owner = contextFor({ userId: ada.id, sessionId: started.session.id, roles: [], scopes: [] });
    expect(await resolve('Mutation', 'signOut')({}, {}, owner)).toEqual({ ok: true, error: null });
    expect(await isSessionRevoked(cache, started.session.id)).toBe(true);
  });
});
