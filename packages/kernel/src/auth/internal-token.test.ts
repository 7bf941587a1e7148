import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { EnvError } from '../env.js';
import {
  createInternalTokenVerifier,
  INTERNAL_TOKEN_AUDIENCE,
  INTERNAL_TOKEN_ISSUER,
  InternalTokenError,
  resolveInternalAuthSecret,
  signInternalToken,
  verifyInternalToken,
} from './internal-token.js';
import { ANONYMOUS, type Principal } from './principal.js';

const secret = 'a'.repeat(24) + '-internal-test-secret-0123456789';
const otherSecret = 'b'.repeat(24) + '-internal-test-secret-0123456789';
const ada: Principal = {
  kind: 'user',
  userId: 'user-ada',
  sessionId: 'session-1',
  roles: ['MEMBER'],
  scopes: ['learning:read'],
  tier: 'FREE',
};

/** A token signed with `key` the way an attacker or a buggy gateway might, with chosen claims. */
async function forge(
  key: string,
  claims: Record<string, unknown>,
  options: { iat?: number; exp?: number; aud?: string; iss?: string } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(options.iss ?? INTERNAL_TOKEN_ISSUER)
    .setAudience(options.aud ?? INTERNAL_TOKEN_AUDIENCE)
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime(options.exp ?? now + 60)
    .sign(new TextEncoder().encode(key));
}

async function refusal(token: string | undefined, key = secret) {
  const error = await verifyInternalToken(key, token).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InternalTokenError);
  return (error as InternalTokenError).reason;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('internal tokens', () => {
  it('carry the principal and the request id that minted them', async () => {
    const token = await signInternalToken(secret, ada, 'req-1');
    expect(await verifyInternalToken(secret, token)).toEqual({
      principal: ada,
      mintedForRequestId: 'req-1',
    });
    const anonymous = await signInternalToken(secret, ANONYMOUS, 'req-2');
    expect((await verifyInternalToken(secret, anonymous)).principal).toEqual({ kind: 'anonymous' });
  });

  it('are refused when missing, expired, signed with another secret, unsigned, tampered with or for another audience', async () => {
    expect(await refusal(undefined)).toBe('missing');
    expect(await refusal('')).toBe('missing');
    expect(await refusal('not.a.jwt')).toBe('invalid');

    const now = Math.floor(Date.now() / 1000);
    const expired = await forge(secret, { principal: ada, rid: 'r' }, { iat: now - 120, exp: now - 60 });
    expect(await refusal(expired)).toBe('expired');

    expect(await refusal(await signInternalToken(otherSecret, ada, 'r'))).toBe('invalid');

    const unsigned = new UnsecuredJWT({ principal: ada, rid: 'r' })
      .setIssuer(INTERNAL_TOKEN_ISSUER)
      .setAudience(INTERNAL_TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('60s')
      .encode();
    expect(unsigned.split('.')[2]).toBe('');
    expect(await refusal(unsigned)).toBe('invalid');

    // Same header and signature, payload promoting the caller to ADMIN.
    const [header, payload, signature] = (await signInternalToken(secret, ada, 'r')).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
    claims.principal.roles = ['ADMIN'];
    const tampered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    expect(await refusal(tampered)).toBe('invalid');

    expect(await refusal(await forge(secret, { principal: ada, rid: 'r' }, { aud: 'symbeon-api' }))).toBe(
      'invalid',
    );
    expect(await refusal(await forge(secret, { principal: ada, rid: 'r' }, { iss: 'identity' }))).toBe(
      'invalid',
    );
  });

  it('are refused when the principal is malformed or the lifetime longer than the gateway issues', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await refusal(await forge(secret, { principal: { kind: 'user', userId: 'x' }, rid: 'r' }))).toBe(
      'malformed',
    );
    expect(await refusal(await forge(secret, { principal: { ...ada, isAdmin: true }, rid: 'r' }))).toBe(
      'malformed',
    );
    expect(await refusal(await forge(secret, { principal: ada }))).toBe('malformed');
    expect(
      await refusal(await forge(secret, { principal: ada, rid: 'r' }, { iat: now, exp: now + 3600 })),
    ).toBe('invalid');
  });

  it('are reused per principal and secret, and re-signed once less than 20 s are left', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'));
    const first = await signInternalToken(secret, ada, 'req-1');
    expect(await signInternalToken(secret, { ...ada }, 'req-2')).toBe(first);
    expect(await signInternalToken(otherSecret, ada, 'req-2')).not.toBe(first);
    expect(await signInternalToken(secret, { ...ada, roles: ['ADMIN'] }, 'req-2')).not.toBe(first);

    vi.setSystemTime(new Date('2026-12-01T10:00:40Z'));
    expect(await signInternalToken(secret, ada, 'req-3')).toBe(first);
    vi.setSystemTime(new Date('2026-12-01T10:00:41Z'));
    const second = await signInternalToken(secret, ada, 'req-4');
    expect(second).not.toBe(first);
    expect((await verifyInternalToken(secret, second)).mintedForRequestId).toBe('req-4');
  });

  it('refuse secrets shorter than 32 bytes', async () => {
    await expect(signInternalToken('short', ada, 'r')).rejects.toThrow(/at least 32 bytes/);
    expect(() => createInternalTokenVerifier('short')).toThrow(/at least 32 bytes/);
  });
});

describe('the subgraph verifier', () => {
  it('remembers verified tokens until they expire', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T11:00:00Z'));
    const verify = createInternalTokenVerifier(secret);
    const token = await signInternalToken(secret, { ...ada, sessionId: 'session-verifier' }, 'r');
    expect((await verify(token)).principal).toMatchObject({ sessionId: 'session-verifier' });
    expect((await verify(token)).principal).toMatchObject({ sessionId: 'session-verifier' });
    // 60 s lifetime + 5 s clock tolerance.
    vi.setSystemTime(new Date('2026-12-01T11:01:06Z'));
    await expect(verify(token)).rejects.toMatchObject({ reason: 'expired' });
    await expect(verify(undefined)).rejects.toMatchObject({ reason: 'missing' });
  });
});

describe('resolveInternalAuthSecret', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-secret-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('takes the environment first, in every profile', () => {
    for (const NODE_ENV of ['production', 'development']) {
      expect(resolveInternalAuthSecret({ INTERNAL_AUTH_SECRET: secret, NODE_ENV, DATA_DIR: dataDir })).toBe(
        secret,
      );
    }
  });

  it('generates one embedded secret per DATA_DIR outside production, and reuses it', () => {
    const first = resolveInternalAuthSecret({ NODE_ENV: 'development', DATA_DIR: dataDir });
    expect(Buffer.byteLength(first)).toBeGreaterThanOrEqual(32);
    expect(resolveInternalAuthSecret({ NODE_ENV: 'test', DATA_DIR: dataDir })).toBe(first);
    const stored = JSON.parse(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8'));
    expect(stored.INTERNAL_AUTH_SECRET).toBe(first);
  });

  it('refuses production without a secret, and short secrets anywhere', () => {
    expect(() => resolveInternalAuthSecret({ NODE_ENV: 'production', DATA_DIR: dataDir })).toThrow(EnvError);
    expect(() => resolveInternalAuthSecret({ NODE_ENV: 'production', DATA_DIR: dataDir })).toThrow(
      /INTERNAL_AUTH_SECRET: required when NODE_ENV=production/,
    );
    expect(() =>
      resolveInternalAuthSecret({
        INTERNAL_AUTH_SECRET: 'short',
        NODE_ENV: 'development',
        DATA_DIR: dataDir,
      }),
    ).toThrow(/at least 32 bytes/);
  });
});
