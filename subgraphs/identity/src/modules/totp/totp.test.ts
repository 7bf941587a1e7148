import { randomBytes } from 'node:crypto';
import { createMemoryCache, createSecretBox, parseSecretKey, type Cache } from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { eq } from 'drizzle-orm';
import { generate } from 'otplib';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createContext, type IdentityModules, type Principal } from '../../context.js';
import * as schema from '../../db/schema.js';
import { identityMigrations } from '../../service.js';
import { createSessionsManager, type SessionsManager } from '../sessions/sessions-manager.js';
import { createSessionsStorage } from '../sessions/sessions-storage.js';
import { createTokenManager, type TokenManager } from '../tokens/tokens-manager.js';
import { createTokensStorage } from '../tokens/tokens-storage.js';
import { createUsersManager, type UsersManager } from '../users/users-manager.js';
import { createUsersStorage, type UserRow } from '../users/users-storage.js';
import { walletsResolvers } from '../wallets/wallets-resolvers.js';
import type { WalletsManager } from '../wallets/wallets-manager.js';
import { createTotpManager, LOCK_MS, type TotpManager } from './totp-manager.js';
import { totpResolvers } from './totp-resolvers.js';
import { createTotpStorage } from './totp-storage.js';

let database: TestDatabase<typeof schema>;
let now: Date;
const clock = () => new Date(now);
const box = createSecretBox(parseSecretKey(`k1:${randomBytes(32).toString('base64')}`));
let tokens: TokenManager;
let users: UsersManager;
let cache: Cache;
let totp: TotpManager;
let sessions: SessionsManager;
let user: UserRow;
let handles = 0;

beforeAll(async () => {
  database = await openTestDatabase({ schemaName: 'identity', migrationsFolder: identityMigrations, schema });
  tokens = createTokenManager({
    storage: createTokensStorage(database.db),
    box,
    config: {
      issuer: 'http://localhost:8000',
      audience: 'symbeon-api',
      accessTokenTtlSeconds: 900,
      keyPublishLeadSeconds: 0,
      keyRotationIntervalSeconds: 365 * 24 * 3600,
    },
  });
  await tokens.rotateKeys();
  users = createUsersManager(createUsersStorage(database.db));
});

afterAll(async () => {
  await database?.close();
});

beforeEach(async () => {
  // Mid-step, so ±1 step around "now" never crosses into a step another test used.
  now = new Date('2026-12-01T00:00:10.000Z');
  cache = createMemoryCache();
  totp = createTotpManager({
    storage: createTotpStorage(database.db),
    box,
    cache,
    users,
    now: clock,
  });
  sessions = createSessionsManager({
    storage: createSessionsStorage(database.db),
    tokens,
    cache,
    config: { sessionTtlSeconds: 3600 },
  });
  handles += 1;
  user = await users.createUser({ handle: `totp-${handles}`, displayName: 'Totp' });
});

const secretOf = (uri: string) => new URL(uri).searchParams.get('secret')!;
/** The code an authenticator app shows at the injected clock (plus `stepOffset` steps). */
const codeAt = (secret: string, stepOffset = 0) =>
  generate({ secret, epoch: Math.floor(now.getTime() / 1000) + stepOffset * 30 });
const advance = (ms: number) => {
  now = new Date(now.getTime() + ms);
};
async function factorRow(userId: string) {
  const [row] = await database.db
    .select()
    .from(schema.totpFactors)
    .where(eq(schema.totpFactors.userId, userId));
  return row;
}

/** Enrols and confirms; returns the secret and the recovery codes. */
async function enable(userId = user.id) {
  const { otpauthUri } = await totp.enroll(userId);
  const secret = secretOf(otpauthUri);
  const { recoveryCodes } = await totp.confirm(userId, await codeAt(secret));
  // The next code must come from a later step: the confirming one is used.
  advance(30_000);
  return { secret, recoveryCodes };
}

describe('enrolment', () => {
  it('returns an otpauth URI and a QR code, stores the secret sealed, and enables it with a code', async () => {
    const { otpauthUri, qrCodeSvg } = await totp.enroll(user.id);
    expect(otpauthUri).toMatch(
      new RegExp(`^otpauth://totp/Symbeon:${user.handle}\\?secret=[A-Z2-7]{32}&issuer=Symbeon`),
    );
    expect(qrCodeSvg).toMatch(/^<svg[^>]*>/);
    const secret = secretOf(otpauthUri);
    // 160 bits: 32 base32 characters.
    expect(secret).toHaveLength(32);
    const pending = await factorRow(user.id);
    expect(JSON.stringify(pending)).not.toContain(secret);
    expect(box.decrypt(pending!.secretEncrypted, `totp:${user.id}`)).toBe(secret);
    expect(() => box.decrypt(pending!.secretEncrypted, 'totp:someone-else')).toThrow();
    expect(pending!.enabledAt).toBeNull();
    expect(await totp.isEnabled(user.id)).toBe(false);

    const { recoveryCodes } = await totp.confirm(user.id, await codeAt(secret));
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-km-z2-9]{4}-[a-km-z2-9]{4}-[a-km-z2-9]{4}$/);
    expect(await totp.isEnabled(user.id)).toBe(true);
    const stored = await database.db
      .select()
      .from(schema.recoveryCodes)
      .where(eq(schema.recoveryCodes.userId, user.id));
    expect(stored).toHaveLength(10);
    for (const row of stored) expect(row.codeHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(recoveryCodes[0]!.replace(/-/g, '').slice(0, 8));
  });

  it('replaces a pending secret on re-enrolment, and refuses once enabled', async () => {
    const first = secretOf((await totp.enroll(user.id)).otpauthUri);
    const second = secretOf((await totp.enroll(user.id)).otpauthUri);
    expect(second).not.toBe(first);
    await expect(totp.confirm(user.id, await codeAt(first))).rejects.toMatchObject({
      code: 'TOTP_INVALID_CODE',
    });
    await totp.confirm(user.id, await codeAt(second));
    await expect(totp.enroll(user.id)).rejects.toMatchObject({ code: 'TOTP_ALREADY_ENABLED' });
    await expect(totp.confirm(user.id, await codeAt(second, 1))).rejects.toMatchObject({
      code: 'TOTP_ALREADY_ENABLED',
    });
  });

  it('refuses to confirm or disable without an enrolment', async () => {
    await expect(totp.confirm(user.id, '123456')).rejects.toMatchObject({ code: 'TOTP_NOT_ENABLED' });
    await expect(totp.disable(user.id, '123456')).rejects.toMatchObject({ code: 'TOTP_NOT_ENABLED' });
  });
});

describe('codes', () => {
  it('accepts ±1 step of drift but a time step only once', async () => {
    const { secret } = await enable();
    advance(30_000);
    const challenge = async () => (await totp.challengeFor(user.id, 'SIWE'))!;
    // One step behind: a slow client, and a step not used yet.
    const code = await codeAt(secret, -1);
    await expect(totp.completeChallenge(await challenge(), code)).resolves.toMatchObject({ userId: user.id });
    await expect(totp.completeChallenge(await challenge(), code)).rejects.toMatchObject({
      code: 'TOTP_INVALID_CODE',
    });
    await expect(totp.completeChallenge(await challenge(), await codeAt(secret, -2))).rejects.toMatchObject({
      code: 'TOTP_INVALID_CODE',
    });
    // Two steps behind is outside the window; one ahead (a fast client) works.
    await expect(totp.completeChallenge(await challenge(), await codeAt(secret, 1))).resolves.toBeDefined();
  });

  it('locks the factor for 15 minutes after 5 wrong codes in a row, refusing even a right code', async () => {
    const { secret } = await enable();
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await expect(totp.disable(user.id, '000000')).rejects.toMatchObject({ code: 'TOTP_INVALID_CODE' });
    }
    expect((await factorRow(user.id))!.failedAttempts).toBe(4);
    const lockedUntil = new Date(now.getTime() + LOCK_MS);
    await expect(totp.disable(user.id, 'aaaa-bbbb-cccc')).rejects.toMatchObject({
      code: 'TOTP_LOCKED',
      message: expect.stringContaining(lockedUntil.toISOString()),
    });
    advance(LOCK_MS - 60_000);
    await expect(totp.disable(user.id, await codeAt(secret))).rejects.toMatchObject({ code: 'TOTP_LOCKED' });
    const challenge = (await totp.challengeFor(user.id, 'SIWE'))!;
    await expect(totp.completeChallenge(challenge, await codeAt(secret))).rejects.toMatchObject({
      code: 'TOTP_LOCKED',
    });
    advance(60_000);
    await expect(totp.completeChallenge(challenge, await codeAt(secret))).resolves.toBeDefined();
    expect(await factorRow(user.id)).toMatchObject({ failedAttempts: 0, lockedUntil: null });
  });

  it('resets the count on success', async () => {
    const { secret } = await enable();
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await expect(totp.disable(user.id, '000000')).rejects.toMatchObject({ code: 'TOTP_INVALID_CODE' });
    }
    await totp.completeChallenge((await totp.challengeFor(user.id, 'SIWE'))!, await codeAt(secret));
    await expect(totp.disable(user.id, '000000')).rejects.toMatchObject({ code: 'TOTP_INVALID_CODE' });
    expect((await factorRow(user.id))!.failedAttempts).toBe(1);
  });

  it('takes a recovery code once, with or without dashes and in any case', async () => {
    const { recoveryCodes } = await enable();
    const [first, second] = recoveryCodes as [string, string];
    const challenge = (await totp.challengeFor(user.id, 'SIWE'))!;
    await expect(totp.completeChallenge(challenge, first.toUpperCase())).resolves.toBeDefined();
    const again = (await totp.challengeFor(user.id, 'SIWE'))!;
    await expect(totp.completeChallenge(again, first)).rejects.toMatchObject({ code: 'TOTP_INVALID_CODE' });
    await expect(totp.completeChallenge(again, second.replace(/-/g, ''))).resolves.toBeDefined();
    const rows = await database.db
      .select()
      .from(schema.recoveryCodes)
      .where(eq(schema.recoveryCodes.userId, user.id));
    expect(rows.filter((row) => row.usedAt !== null)).toHaveLength(2);
  });

  it('disables with a code or a recovery code, removing the factor and the recovery codes', async () => {
    const { secret } = await enable();
    await expect(totp.disable(user.id, '')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await totp.disable(user.id, await codeAt(secret));
    expect(await factorRow(user.id)).toBeUndefined();
    expect(
      await database.db.select().from(schema.recoveryCodes).where(eq(schema.recoveryCodes.userId, user.id)),
    ).toEqual([]);
    expect(await totp.isEnabled(user.id)).toBe(false);

    const { recoveryCodes } = await enable();
    await totp.disable(user.id, recoveryCodes[3]!);
    expect(await totp.isEnabled(user.id)).toBe(false);
  });
});

describe('sign-in step-up through the resolvers', () => {
  // Called directly: over HTTP the caller arrives only through the gateway's internal token.
  const resolve = (
    resolvers: typeof totpResolvers,
    type: string,
    name: string,
  ): ((...args: unknown[]) => Promise<Record<string, unknown>>) =>
    (resolvers[type] as Record<string, (...args: unknown[]) => Promise<Record<string, unknown>>>)[name]!;

  function contextFor(principal?: Principal) {
    const usersStorage = createUsersStorage(database.db);
    // The SIWE verification itself is covered by wallets.test.ts: here the wallet proves to be this user.
    const wallets = {
      signIn: async () => ({ user, wallet: {}, created: false }),
    } as unknown as WalletsManager;
    return createContext(
      {
        logger: pino({ level: 'silent' }),
        usersStorage,
        users,
        sessionsStorage: createSessionsStorage(database.db),
        sessions,
        wallets,
        totp,
        ...({} as Pick<IdentityModules, 'walletsStorage' | 'roles' | 'apiKeys' | 'oidcStorage' | 'oidc'>),
      },
      { requestId: 'test', principal, userAgent: 'vitest' },
    );
  }
  const signInWithEthereum = () =>
    resolve(walletsResolvers, 'Mutation', 'signInWithEthereum')(
      undefined,
      { message: 'm', signature: 's' },
      contextFor(),
    );
  const completeSignIn = (challenge: string, code: string) =>
    resolve(totpResolvers, 'Mutation', 'completeSignIn')(undefined, { challenge, code }, contextFor());

  it('signs in at once without TOTP', async () => {
    const result = await signInWithEthereum();
    expect(result).toMatchObject({ ok: true, error: null, user: { id: user.id } });
    expect(result.accessToken).toEqual(expect.any(String));
  });

  it('asks for a second factor once TOTP is on, and completes the sign-in with a code once', async () => {
    const owner = { userId: user.id, roles: ['MEMBER'], scopes: [] };
    const enrolled = await resolve(totpResolvers, 'Mutation', 'enrollTotp')(undefined, {}, contextFor(owner));
    expect(enrolled).toMatchObject({ ok: true, otpauthUri: expect.stringContaining('otpauth://totp/') });
    const secret = secretOf(enrolled.otpauthUri as string);
    const confirmed = await resolve(totpResolvers, 'Mutation', 'confirmTotp')(
      undefined,
      { code: await codeAt(secret) },
      contextFor(owner),
    );
    expect(confirmed).toMatchObject({ ok: true, recoveryCodes: expect.any(Array) });
    const totpEnabled = resolve(totpResolvers, 'User', 'totpEnabled');
    expect(await totpEnabled({ id: user.id }, {}, contextFor(owner))).toBe(true);
    expect(await totpEnabled({ id: user.id }, {}, contextFor())).toBeNull();
    advance(30_000);

    const stepUp = await signInWithEthereum();
    expect(stepUp).toMatchObject({
      ok: false,
      error: { code: 'SECOND_FACTOR_REQUIRED' },
      challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(stepUp.accessToken).toBeUndefined();
    const challenge = stepUp.challenge as string;

    // A wrong code counts but leaves the challenge usable.
    expect(await completeSignIn(challenge, '000000')).toMatchObject({
      ok: false,
      error: { code: 'TOTP_INVALID_CODE', field: 'code' },
    });
    const done = await completeSignIn(challenge, await codeAt(secret));
    expect(done).toMatchObject({
      ok: true,
      user: { id: user.id },
      session: { method: 'SIWE', current: true },
    });
    expect(done.accessToken).toEqual(expect.any(String));
    expect(done.refreshToken).toEqual(expect.any(String));

    advance(30_000);
    expect(await completeSignIn(challenge, await codeAt(secret))).toMatchObject({
      ok: false,
      error: { code: 'INVALID_CHALLENGE' },
    });
    expect(await completeSignIn('made-up', await codeAt(secret))).toMatchObject({
      ok: false,
      error: { code: 'INVALID_CHALLENGE' },
    });
  });

  it('lets a challenge expire after 5 minutes', async () => {
    const { secret } = await enable();
    const challenge = (await signInWithEthereum()).challenge as string;
    await cache.delete(`totp:challenge:${challenge}`);
    expect(await completeSignIn(challenge, await codeAt(secret))).toMatchObject({
      error: { code: 'INVALID_CHALLENGE' },
    });
    const next = (await signInWithEthereum()).challenge as string;
    const ttl = await cache.ttl(`totp:challenge:${next}`);
    expect(ttl).toBeGreaterThan(4 * 60_000);
    expect(ttl).toBeLessThanOrEqual(5 * 60_000);
  });
});
