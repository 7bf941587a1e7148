import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMemoryCache, type Cache } from '@symbeon/kernel';
import {
  AuthenticationError,
  AuthenticationUnavailableError,
  createAuthenticator,
  type AuthFailureReason,
} from './authenticate.js';
import { revokedSessionKey } from './session-revocation.js';

// A stand-in for identity's JWKS endpoint, with RSA keys generated here: each forged or broken token must
// be refused for its own reason, and a valid one must give the principal its claims describe.
const issuer = 'http://localhost:8000';
const audience = 'symbeon-api';

interface Key {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

let current: Key;
let rotated: Key;
let unpublished: Key;
let published: JWK[];
let jwksFetches = 0;
let server: Server;
let jwksUrl: URL;
const cache: Cache = createMemoryCache();

async function rsaKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    kid,
    privateKey,
    publicKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

beforeAll(async () => {
  [current, rotated, unpublished] = await Promise.all([rsaKey('k1'), rsaKey('k2'), rsaKey('k3')]);
  published = [current.publicJwk];
  server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    jwksFetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`);
});

afterAll(async () => {
  await cache.close();
  await new Promise((resolve) => server?.close(resolve));
});

const now = () => Math.floor(Date.now() / 1000);

/** An access token as identity issues one, with any part overridable. */
async function accessToken(
  options: {
    key?: Key;
    kid?: string;
    claims?: JWTPayload;
    iss?: string;
    aud?: string;
    iat?: number;
    exp?: number;
  } = {},
) {
  const key = options.key ?? current;
  return new SignJWT({
    sid: 'session-1',
    roles: ['MEMBER'],
    scopes: ['learning:write'],
    tier: 'PRO',
    ...options.claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? key.kid, typ: 'JWT' })
    .setSubject('user-ada')
    .setIssuer(options.iss ?? issuer)
    .setAudience(options.aud ?? audience)
    .setIssuedAt(options.iat ?? now())
    .setExpirationTime(options.exp ?? now() + 900)
    .sign(key.privateKey);
}

function authenticator(jwksCooldownMs = 30_000) {
  return createAuthenticator({ jwksUrl: () => jwksUrl, issuer, audience, cache, jwksCooldownMs });
}

async function reasonOf(promise: Promise<unknown>): Promise<AuthFailureReason> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof AuthenticationError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error.reason;
}

describe('access tokens', () => {
  const auth = authenticator();

  it('a valid token gives the principal its claims describe', async () => {
    expect(await auth.verifyAccessToken(await accessToken())).toEqual({
      kind: 'user',
      userId: 'user-ada',
      sessionId: 'session-1',
      roles: ['MEMBER'],
      scopes: ['learning:write'],
      tier: 'PRO',
    });
    expect(await auth.authenticate({ authorization: `Bearer ${await accessToken()}` })).toMatchObject({
      kind: 'user',
      userId: 'user-ada',
    });
  });

  it('refuses alg: none', async () => {
    const unsigned = new UnsecuredJWT({ sid: 'session-1' })
      .setSubject('user-ada')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime(now() + 900)
      .encode();
    expect(await reasonOf(auth.verifyAccessToken(unsigned))).toBe('algorithm');
  });

  it('refuses HS256 signed with the public key (PEM) as the HMAC secret', async () => {
    // What anyone can download: the published public key, as PEM.
    const pem = await exportSPKI(current.publicKey);
    const confused = await new SignJWT({ sid: 'session-1' })
      .setProtectedHeader({ alg: 'HS256', kid: current.kid })
      .setSubject('user-ada')
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime(now() + 900)
      .sign(new TextEncoder().encode(pem));
    expect(await reasonOf(auth.verifyAccessToken(confused))).toBe('algorithm');
  });

  it('refuses expired tokens, beyond the 5 s clock tolerance', async () => {
    const expired = await accessToken({ iat: now() - 1000, exp: now() - 10 });
    expect(await reasonOf(auth.verifyAccessToken(expired))).toBe('expired');
    const withinTolerance = await accessToken({ iat: now() - 1000, exp: now() - 2 });
    expect((await auth.verifyAccessToken(withinTolerance)).kind).toBe('user');
  });

  it('refuses tokens not yet valid (nbf in the future)', async () => {
    const early = await accessToken({ claims: { nbf: now() + 120 } });
    expect(await reasonOf(auth.verifyAccessToken(early))).toBe('not-yet-valid');
  });

  it('refuses another issuer or audience', async () => {
    expect(await reasonOf(auth.verifyAccessToken(await accessToken({ iss: 'https://evil.example' })))).toBe(
      'issuer',
    );
    expect(await reasonOf(auth.verifyAccessToken(await accessToken({ aud: 'another-api' })))).toBe(
      'audience',
    );
  });

  it('refuses a tampered payload', async () => {
    const [header, payload, signature] = (await accessToken()).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
    claims.roles = ['ADMIN'];
    const tampered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    expect(await reasonOf(auth.verifyAccessToken(tampered))).toBe('signature');
  });

  it('refuses a token missing sid, or with malformed claims', async () => {
    expect(await reasonOf(auth.verifyAccessToken(await accessToken({ claims: { sid: undefined } })))).toBe(
      'claims',
    );
    expect(await reasonOf(auth.verifyAccessToken(await accessToken({ claims: { roles: 'ADMIN' } })))).toBe(
      'claims',
    );
    expect(await reasonOf(auth.verifyAccessToken(await accessToken({ claims: { tier: 'GOLD' } })))).toBe(
      'claims',
    );
  });

  it('refuses a revoked session', async () => {
    const token = await accessToken({ claims: { sid: 'session-revoked' } });
    expect((await auth.verifyAccessToken(token)).kind).toBe('user');
    await cache.set(revokedSessionKey('session-revoked'), '1');
    expect(await reasonOf(auth.verifyAccessToken(token))).toBe('revoked');
  });

  it('remembers a verified token (no second RS256 verification) while exp and revocation still hold', async () => {
    let url = jwksUrl;
    const remembering = createAuthenticator({ jwksUrl: () => url, issuer, audience, cache });
    const token = await accessToken({ claims: { sid: 'session-remembered' }, exp: now() + 60 });
    expect((await remembering.verifyAccessToken(token)).sessionId).toBe('session-remembered');
    // The JWKS is gone: the same token is still accepted, any other needs the keys and cannot be checked.
    url = new URL('http://127.0.0.1:9/.well-known/jwks.json');
    expect((await remembering.verifyAccessToken(token)).sessionId).toBe('session-remembered');
    await expect(remembering.verifyAccessToken(await accessToken())).rejects.toBeInstanceOf(
      AuthenticationUnavailableError,
    );
    await cache.set(revokedSessionKey('session-remembered'), '1');
    expect(await reasonOf(remembering.verifyAccessToken(token))).toBe('revoked');
    await cache.delete(revokedSessionKey('session-remembered'));
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 66_000);
      expect(await reasonOf(remembering.verifyAccessToken(token))).toBe('expired');
    } finally {
      vi.useRealTimers();
    }
  });

  it('tells clients only what they can act on', async () => {
    const refusal = async (token: string) =>
      auth.verifyAccessToken(token).then(
        () => undefined,
        (error: AuthenticationError) => error.publicMessage,
      );
    expect(await refusal(await accessToken({ iat: now() - 1000, exp: now() - 60 }))).toBe('token expired');
    expect(await refusal(await accessToken({ claims: { sid: 'session-revoked' } }))).toBe('session revoked');
    expect(await refusal(await accessToken({ aud: 'another-api' }))).toBe('invalid token');
    expect(await refusal(await accessToken({ key: unpublished }))).toBe('invalid token');
  });
});

describe('unknown key ids', () => {
  it('refetch the JWKS once (then not again within the cooldown), so a rotated key is accepted', async () => {
    const auth = authenticator(300);
    jwksFetches = 0;
    expect((await auth.verifyAccessToken(await accessToken())).kind).toBe('user');
    expect(jwksFetches).toBe(1);

    // Identity publishes k2; the gateway's cached set does not hold it yet.
    published = [current.publicJwk, rotated.publicJwk];
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await auth.verifyAccessToken(await accessToken({ key: rotated }))).kind).toBe('user');
    expect(jwksFetches).toBe(2);
    expect((await auth.verifyAccessToken(await accessToken({ key: rotated }))).kind).toBe('user');
    expect(jwksFetches).toBe(2);

    // A kid nobody published: refused; within the cooldown it costs identity no request at all.
    const stranger = await accessToken({ key: unpublished });
    expect(await reasonOf(auth.verifyAccessToken(stranger))).toBe('unknown-key');
    expect(jwksFetches).toBe(2);
    // After the cooldown, one refetch per unknown kid, still refused.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await reasonOf(auth.verifyAccessToken(stranger))).toBe('unknown-key');
    expect(jwksFetches).toBe(3);
    // Signed by k3 but claiming k1: the signature does not verify with k1.
    expect(await reasonOf(auth.verifyAccessToken(await accessToken({ key: unpublished, kid: 'k1' })))).toBe(
      'signature',
    );
    published = [current.publicJwk];
  });
});

describe('credentials in the request', () => {
  const auth = authenticator();

  it('no credentials: anonymous', async () => {
    expect(await auth.authenticate({})).toEqual({ kind: 'anonymous' });
    // Identity never comes from any other header.
    expect(await auth.authenticate({ 'x-user-id': 'user-ada', 'x-symbeon-internal': 'x' })).toEqual({
      kind: 'anonymous',
    });
  });

  it('an X-API-Key that cannot be checked is refused, never anonymous', async () => {
    const error = await auth.authenticate({ 'x-api-key': 'sk_test' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ reason: 'api-key', publicMessage: 'invalid API key' });
  });

  it('other schemes and garbage are refused', async () => {
    expect(await reasonOf(auth.authenticate({ authorization: 'Basic dXNlcjpwYXNz' }))).toBe('scheme');
    expect(await reasonOf(auth.authenticate({ authorization: 'Bearer' }))).toBe('malformed');
    expect(await reasonOf(auth.authenticate({ authorization: 'Bearer not-a-jwt' }))).toBe('malformed');
    expect(await reasonOf(auth.authenticate({ authorization: '' }))).toBe('scheme');
  });

  it('an unreachable JWKS is "unavailable", not the caller\'s fault', async () => {
    const missing = createAuthenticator({
      jwksUrl: () => new URL('/nowhere.json', jwksUrl),
      issuer,
      audience,
      cache,
    });
    await expect(missing.verifyAccessToken(await accessToken())).rejects.toBeInstanceOf(
      AuthenticationUnavailableError,
    );
    const unrouted = createAuthenticator({ jwksUrl: () => undefined, issuer, audience, cache });
    await expect(unrouted.verifyAccessToken(await accessToken())).rejects.toBeInstanceOf(
      AuthenticationUnavailableError,
    );
  });
});
