import { createServer, type Server } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { createSecretBox, parseSecretKey, type RequestIdentity } from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { identityMigrations } from '../../service.js';
import { JWKS_PATH, jwksRoute } from './jwks-route.js';
import { ROLE_SCOPES, rolesFromGrants, scopesForRoles } from './scopes.js';
import {
  CLOCK_SKEW_SECONDS,
  createTokenManager,
  rotationCheckMs,
  type TokenConfig,
} from './tokens-manager.js';
import { createTokensStorage } from './tokens-storage.js';

const config: TokenConfig = {
  issuer: 'http://localhost:8000',
  audience: 'symbeon-api',
  accessTokenTtlSeconds: 900,
  keyPublishLeadSeconds: 600,
  keyRotationIntervalSeconds: 3600,
};
const secretKey = parseSecretKey(`k1:${randomBytes(32).toString('base64')}`);
const box = createSecretBox(secretKey);
const start = new Date('2026-12-01T00:00:00.000Z');

let database: TestDatabase<typeof schema>;
let now: Date;
const clock = () => new Date(now);
/** `value` seconds after the start of each test. */
const at = (value: number) => new Date(start.getTime() + value * 1000);

function manager(overrides: Partial<Parameters<typeof createTokenManager>[0]> = {}) {
  return createTokenManager({
    storage: createTokensStorage(database.db),
    box,
    config,
    now: clock,
    ...overrides,
  });
}

async function verify(token: string, jwks: JSONWebKeySet, at: Date = clock()) {
  return jwtVerify(token, createLocalJWKSet(jwks), {
    algorithms: ['RS256'],
    issuer: config.issuer,
    audience: config.audience,
    currentDate: at,
  });
}

const subject = { userId: randomUUID(), sessionId: randomUUID(), roles: ['MEMBER'] };

beforeAll(async () => {
  database = await openTestDatabase({ schemaName: 'identity', migrationsFolder: identityMigrations, schema });
});

afterAll(async () => {
  await database?.close();
});

beforeEach(async () => {
  now = new Date(start);
  await database.db.delete(schema.signingKeys);
});

describe('signing key lifecycle', () => {
  it('signs at once with the very first key, published in the JWKS', async () => {
    const tokens = manager();
    expect(await tokens.jwks()).toEqual({ keys: [] });
    const { created } = await tokens.rotateKeys();
    expect(created).toHaveLength(1);
    const [key] = await database.db.select().from(schema.signingKeys);
    expect(key).toMatchObject({ kid: created[0], createdAt: start, activatesAt: start });
    expect(key!.retiresAt).toEqual(at(3600));
    expect(key!.expiresAt).toEqual(at(3600 + 900 + CLOCK_SKEW_SECONDS));

    const issued = await tokens.issueAccessToken(subject);
    expect(issued.kid).toBe(created[0]);
    await expect(verify(issued.token, await tokens.jwks())).resolves.toBeTruthy();
    // A second pass at the same moment has nothing to do.
    expect(await tokens.rotateKeys()).toEqual({ created: [], deleted: [] });
  });

  it('creates the first key on demand when a token is needed before any pass ran', async () => {
    const tokens = manager();
    const issued = await tokens.issueAccessToken(subject);
    await expect(verify(issued.token, await tokens.jwks())).resolves.toBeTruthy();
  });

  it('publishes the next key a full lead before it signs, and no token fails verification across rotations, even against a JWKS cached for five minutes', async () => {
    const tokens = manager();
    await tokens.rotateKeys();
    const [first] = await database.db.select().from(schema.signingKeys);
    const step = rotationCheckMs(config) / 1000;
    const issued: Array<{ token: string; kid: string; exp: number }> = [];
    const jwksAt = new Map<number, JSONWebKeySet>();
    const signedBy = new Set<string>();
    // Three rotation intervals, one step per rotation check (a minute), as a running replica sees them.
    for (let elapsed = 0; elapsed <= 3 * 3600; elapsed += step) {
      now = new Date(start.getTime() + elapsed * 1000);
      await tokens.rotateKeys();
      const jwks = await tokens.jwks();
      jwksAt.set(elapsed, jwks);
      const token = await tokens.issueAccessToken(subject);
      issued.push({ token: token.token, kid: token.kid, exp: token.claims.exp });
      signedBy.add(token.kid);

      // Every token still valid verifies against what the service publishes now...
      for (const earlier of issued.filter((entry) => entry.exp * 1000 > now.getTime())) {
        await expect(
          verify(earlier.token, jwks),
          `token by ${earlier.kid} at +${elapsed}s`,
        ).resolves.toBeTruthy();
      }
      // ...and a verifier whose copy of the JWKS is five minutes old (Cache-Control max-age) already
      // knows the key of a token signed now.
      const cached = jwksAt.get(elapsed - 300);
      if (cached) {
        await expect(
          verify(token.token, cached),
          `fresh token at +${elapsed}s, cached JWKS`,
        ).resolves.toBeTruthy();
      }
    }
    expect(signedBy.size).toBeGreaterThanOrEqual(3);

    // Each later key was in the JWKS for the whole lead before its first token.
    const keys = await database.db.select().from(schema.signingKeys);
    for (const key of keys.filter((row) => row.kid !== first?.kid)) {
      expect(key.activatesAt.getTime() - key.createdAt.getTime()).toBe(600_000);
    }
  });

  it('hands over from the current key to the next one at its activation, with one key signing at a time', async () => {
    const tokens = manager();
    const [firstKid] = (await tokens.rotateKeys()).created;
    // The next key is created one check interval before its publish lead would run short.
    now = at(3600 - 600 - 60 - 1);
    expect((await tokens.rotateKeys()).created).toEqual([]);
    now = at(3600 - 600 - 60);
    const [nextKid] = (await tokens.rotateKeys()).created;
    expect(nextKid).toBeDefined();
    const next = (await database.db.select().from(schema.signingKeys)).find((key) => key.kid === nextKid)!;
    expect(next.createdAt).toEqual(at(3600 - 660));
    expect(next.activatesAt).toEqual(at(3600 - 60));
    expect((await tokens.jwks()).keys.map((key) => key.kid)).toEqual([firstKid, nextKid]);

    now = new Date(next.activatesAt.getTime() - 1000);
    const before = await tokens.issueAccessToken(subject);
    now = new Date(next.activatesAt);
    const after = await tokens.issueAccessToken(subject);
    expect([before.kid, after.kid]).toEqual([firstKid, nextKid]);
    const jwks = await tokens.jwks();
    await expect(verify(before.token, jwks)).resolves.toBeTruthy();
    await expect(verify(after.token, jwks)).resolves.toBeTruthy();
    // The token signed last by the old key still verifies the second before it expires.
    now = new Date(before.expiresAt.getTime() - 1000);
    await expect(verify(before.token, await tokens.jwks())).resolves.toBeTruthy();
  });

  it('removes a key from the JWKS once its last token has expired, and deletes it on the next pass', async () => {
    const tokens = manager();
    const [firstKid] = (await tokens.rotateKeys()).created;
    now = at(3600 - 660);
    await tokens.rotateKeys();
    now = at(3600 - 61);
    const last = await tokens.issueAccessToken(subject);
    expect(last.kid).toBe(firstKid);
    const [first] = await database.db
      .select()
      .from(schema.signingKeys)
      .where(eq(schema.signingKeys.kid, firstKid!));
    // Its last token expires before the key leaves the JWKS, with the clock skew allowance to spare.
    expect(first!.expiresAt.getTime() - last.expiresAt.getTime()).toBeGreaterThanOrEqual(
      CLOCK_SKEW_SECONDS * 1000,
    );

    now = new Date(first!.expiresAt.getTime() - 1);
    expect((await tokens.jwks()).keys.map((key) => key.kid)).toContain(firstKid);
    now = new Date(first!.expiresAt);
    const published = await tokens.jwks();
    expect(published.keys.map((key) => key.kid)).not.toContain(firstKid);
    expect(published.keys.length).toBeGreaterThan(0);
    await expect(
      verify(last.token, published, new Date(last.expiresAt.getTime() - 1000)),
    ).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });

    const { deleted } = await tokens.rotateKeys();
    expect(deleted).toEqual([firstKid]);
    const remaining = await database.db.select({ kid: schema.signingKeys.kid }).from(schema.signingKeys);
    expect(remaining.map((row) => row.kid)).not.toContain(firstKid);
    // And the manager signs with what remains.
    await expect(verify((await tokens.issueAccessToken(subject)).token, published)).resolves.toBeTruthy();
  });

  it('signs with a key that activates at once after an outage longer than a key signs', async () => {
    const tokens = manager();
    await tokens.rotateKeys();
    now = at(10 * 3600);
    const issued = await tokens.issueAccessToken(subject);
    await expect(verify(issued.token, await tokens.jwks())).resolves.toBeTruthy();
    const keys = await database.db.select().from(schema.signingKeys);
    expect(keys.map((key) => key.kid)).toEqual([issued.kid]);
  });

  it('lets replicas rotate at the same moment without creating two keys', async () => {
    const replicas = [manager(), manager(), manager()];
    const results = await Promise.all(replicas.map((replica) => replica.rotateKeys()));
    expect(results.flatMap((result) => result.created)).toHaveLength(1);
    expect(await database.db.select().from(schema.signingKeys)).toHaveLength(1);
    const kids = await Promise.all(replicas.map(async (replica) => (await replica.signer()).kid));
    expect(new Set(kids).size).toBe(1);
  });
  it('runs rotation passes one at a time, whichever connection they use', async () => {
    const storage = createTokensStorage(database.db);
    const events: string[] = [];
    const pass = (name: string) =>
      storage.withRotationLock(async (locked) => {
        events.push(`${name} in`);
        await locked.listKeys();
        await new Promise((resolve) => setTimeout(resolve, 200));
        events.push(`${name} out`);
      });
    await Promise.all([pass('a'), pass('b')]);
    expect(['a in a out b in b out', 'b in b out a in a out']).toContain(events.join(' '));
  });
});

describe('private keys at rest', () => {
  it('stores the private key sealed: neither its JWK nor its private exponent appear in the row', async () => {
    const tokens = manager();
    const [kid] = (await tokens.rotateKeys()).created;
    const [row] = await database.db.select().from(schema.signingKeys);
    const privateJwk = JSON.parse(box.decrypt(row!.privateJwkEncrypted, kid)) as Record<string, string>;
    expect(privateJwk.d).toMatch(/^[A-Za-z0-9_-]{100,}$/);
    expect(row!.privateJwkEncrypted).toMatch(/^v1\.k1\./);
    expect(row!.privateJwkEncrypted).not.toContain(privateJwk.d);
    expect(row!.privateJwkEncrypted).not.toContain('"d"');
    expect(Object.keys(row!.publicJwk as object).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    // Sealed for its own row: the kid is the associated data.
    expect(() => box.decrypt(row!.privateJwkEncrypted, 'another-kid')).toThrow();
  });

  it('refuses to sign with a key whose sealed value was tampered with, or under a key it does not hold', async () => {
    const [kid] = (await manager().rotateKeys()).created;
    const [row] = await database.db.select().from(schema.signingKeys);
    const sealed = row!.privateJwkEncrypted;
    // One ciphertext byte flipped (a base64 character alone may only touch padding bits).
    const parts = sealed.split('.');
    const ciphertext = Buffer.from(parts[4]!, 'base64url');
    ciphertext[10]! ^= 0x01;
    parts[4] = ciphertext.toString('base64url');
    await database.db
      .update(schema.signingKeys)
      .set({ privateJwkEncrypted: parts.join('.') })
      .where(eq(schema.signingKeys.kid, kid!));
    // A fresh manager (as after a restart) has nothing cached.
    await expect(manager().issueAccessToken(subject)).rejects.toThrow(/cannot be decrypted/);

    await database.db
      .update(schema.signingKeys)
      .set({ privateJwkEncrypted: sealed })
      .where(eq(schema.signingKeys.kid, kid!));
    const otherBox = createSecretBox(parseSecretKey(`k2:${randomBytes(32).toString('base64')}`));
    await expect(manager({ box: otherBox }).issueAccessToken(subject)).rejects.toThrow(/cannot be decrypted/);
    // After SECRETS_KEY is rotated, the old key in SECRETS_PREVIOUS_KEYS still opens it.
    const rotatedBox = createSecretBox(parseSecretKey(`k2:${randomBytes(32).toString('base64')}`), [
      secretKey,
    ]);
    await expect(manager({ box: rotatedBox }).issueAccessToken(subject)).resolves.toMatchObject({ kid });
  });
});

describe('access tokens', () => {
  it('carries exactly the documented claims and header', async () => {
    const tokens = manager();
    const [kid] = (await tokens.rotateKeys()).created;
    const issued = await tokens.issueAccessToken({ ...subject, roles: ['MEMBER', 'ISSUER'] });
    const { payload, protectedHeader } = await verify(issued.token, await tokens.jwks());
    expect(protectedHeader).toEqual({ alg: 'RS256', kid, typ: 'at+jwt' });
    expect(decodeProtectedHeader(issued.token).kid).toBe(kid);
    const iat = Math.floor(start.getTime() / 1000);
    expect(payload).toEqual({
      iss: 'http://localhost:8000',
      aud: 'symbeon-api',
      sub: subject.userId,
      sid: subject.sessionId,
      roles: ['MEMBER', 'ISSUER'],
      scopes: ['certificates:issue', 'certificates:read', 'learning:enroll', 'profile:read', 'profile:write'],
      tier: 'FREE',
      iat,
      nbf: iat,
      exp: iat + 900,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(payload.exp! - payload.iat!).toBe(config.accessTokenTtlSeconds);
    expect(issued.expiresAt).toEqual(new Date((iat + 900) * 1000));
    expect(issued.claims).toEqual(payload);
    const again = await tokens.issueAccessToken(subject);
    expect(again.claims.jti).not.toBe(issued.claims.jti);
  });

  it('never outlives the session it belongs to', async () => {
    const tokens = manager();
    const issued = await tokens.issueAccessToken({ ...subject, notAfter: at(120) });
    expect(issued.claims.exp - issued.claims.iat).toBe(120);
  });

  it('is refused once expired, before it is valid, and for another audience or issuer', async () => {
    const tokens = manager();
    const issued = await tokens.issueAccessToken(subject);
    const jwks = await tokens.jwks();
    await expect(verify(issued.token, jwks, at(900))).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    await expect(verify(issued.token, jwks, at(-60))).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    });
    await expect(
      jwtVerify(issued.token, createLocalJWKSet(jwks), { audience: 'other', currentDate: clock() }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    await expect(
      jwtVerify(issued.token, createLocalJWKSet(jwks), {
        issuer: 'https://evil.example',
        currentDate: clock(),
      }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  });
});

describe('roles and scopes', () => {
  it('maps each role to its scopes, MEMBER being implicit', () => {
    expect(rolesFromGrants([])).toEqual(['MEMBER']);
    expect(rolesFromGrants(['ADMIN', 'AUDITOR', 'SUPERUSER'])).toEqual(['MEMBER', 'AUDITOR', 'ADMIN']);
    expect(scopesForRoles(['MEMBER'])).toEqual(['learning:enroll', 'profile:read', 'profile:write']);
    expect(scopesForRoles(['MEMBER', 'AUDITOR'])).toEqual([
      'certificates:audit',
      'certificates:read',
      'learning:enroll',
      'profile:read',
      'profile:write',
    ]);
    expect(scopesForRoles(['MEMBER', 'ADMIN'])).toEqual([
      'certificates:audit',
      'certificates:issue',
      'certificates:read',
      'learning:enroll',
      'learning:write',
      'profile:read',
      'profile:write',
      'roles:admin',
      'transactions:read',
      'users:admin',
    ]);
    expect(scopesForRoles(['UNKNOWN'])).toEqual([]);
    expect(ROLE_SCOPES.ISSUER).toEqual(['certificates:issue', 'certificates:read']);
    expect(ROLE_SCOPES.INSTRUCTOR).toEqual(['learning:write']);
  });
});

describe('GET /.well-known/jwks.json', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const route = jwksRoute(manager({ now: () => new Date() }));
    // The route ignores the request identity; the service's HTTP layer supplies it.
    const identity = { requestId: 'test' } as unknown as RequestIdentity;
    server = createServer((req, res) => void route(req, res, identity));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    url = `http://127.0.0.1:${address.port}${JWKS_PATH}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('serves the public keys only, cacheable for five minutes', async () => {
    await manager({ now: () => new Date() }).rotateKeys();
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const body = (await response.json()) as JSONWebKeySet;
    expect(body.keys).toHaveLength(1);
    expect(Object.keys(body.keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });
});
