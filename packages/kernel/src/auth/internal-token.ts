import { webcrypto } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { EnvError } from '../env.js';
import { loadOrCreateEmbeddedSecrets } from '../secrets/embedded-secrets.js';
import { principalKey, principalSchema, type Principal } from './principal.js';

/**
 * The gateway -> subgraph trust token (DESIGN.md, "Auth"): the gateway authenticates the caller, then
 * forwards the principal in a short-lived HS256 JWT signed with INTERNAL_AUTH_SECRET, which only the
 * gateway and the subgraphs hold. Subgraphs refuse any GraphQL request without a valid one.
 *
 * It travels in its own header, not in `Authorization`: the gateway never forwards client headers, and a
 * dedicated name means no code path can ever mistake a client's own `Authorization` (a user token, or
 * anything an attacker typed) for the gateway's word on who is calling, nor the other way round.
 */
export const INTERNAL_TOKEN_HEADER = 'x-symbeon-internal';
export const INTERNAL_TOKEN_ISSUER = 'symbeon-gateway';
export const INTERNAL_TOKEN_AUDIENCE = 'symbeon-subgraphs';
export const INTERNAL_TOKEN_TTL_SECONDS = 60;
/** A cached token is replaced once less than this is left, so none expires on its way to a subgraph. */
const RESIGN_BELOW_MS = 20_000;
/** Gateway and subgraph clocks may differ a little when they run on different hosts. */
const CLOCK_TOLERANCE_SECONDS = 5;
export const INTERNAL_AUTH_SECRET_MIN_BYTES = 32;
/** Distinct principals kept per secret; beyond it the oldest are dropped (they are re-signed on demand). */
const CACHE_LIMIT = 10_000;
/** Verified tokens a subgraph remembers (one per active principal and gateway instance). */
const VERIFIED_CACHE_LIMIT = 10_000;

export type InternalTokenFailure = 'missing' | 'malformed' | 'invalid' | 'expired';

/** Why a token was refused: for logs and tests. Clients of a subgraph only ever see one fixed message. */
export class InternalTokenError extends Error {
  constructor(
    readonly reason: InternalTokenFailure,
    message: string,
  ) {
    super(message);
    this.name = 'InternalTokenError';
  }
}

export interface VerifiedInternalToken {
  principal: Principal;
  /**
   * The request the token was minted for. Tokens are cached per principal for up to 40 s, so this is the
   * first request of that principal in the window, not necessarily the current one: correlate logs with
   * the `x-request-id` header instead. Useful to trace where a token came from.
   */
  mintedForRequestId: string;
}

export function assertInternalAuthSecret(secret: string): void {
  if (Buffer.byteLength(secret, 'utf8') < INTERNAL_AUTH_SECRET_MIN_BYTES) {
    throw new Error(`INTERNAL_AUTH_SECRET must be at least ${INTERNAL_AUTH_SECRET_MIN_BYTES} bytes long`);
  }
}

// One imported HMAC key per secret: jose would otherwise import the raw bytes again on every call.
const keys = new Map<string, Promise<webcrypto.CryptoKey>>();

function keyFor(secret: string): Promise<webcrypto.CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    assertInternalAuthSecret(secret);
    key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    keys.set(secret, key);
  }
  return key;
}

interface CachedToken {
  token: string;
  expiresAtMs: number;
}

const signed = new Map<string, Map<string, CachedToken>>();

/**
 * Signs (or reuses) the internal token for `principal`. The hot path signs once per principal per ~40 s
 * rather than per request: a cached token is reused until less than 20 s of its 60 s remain.
 */
export async function signInternalToken(
  secret: string,
  principal: Principal,
  requestId: string,
): Promise<string> {
  let bySecret = signed.get(secret);
  if (!bySecret) signed.set(secret, (bySecret = new Map<string, CachedToken>()));
  const cacheKey = principalKey(principal);
  const cached = bySecret.get(cacheKey);
  const now = Date.now();
  if (cached && cached.expiresAtMs - now >= RESIGN_BELOW_MS) return cached.token;

  const issuedAt = Math.floor(now / 1000);
  const expiresAt = issuedAt + INTERNAL_TOKEN_TTL_SECONDS;
  // Validated on signing too (only on a cache miss): a principal a subgraph would refuse fails here, loudly.
  const token = await new SignJWT({ principal: principalSchema.parse(principal), rid: requestId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(INTERNAL_TOKEN_ISSUER)
    .setAudience(INTERNAL_TOKEN_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(await keyFor(secret));
  bySecret.delete(cacheKey);
  bySecret.set(cacheKey, { token, expiresAtMs: expiresAt * 1000 });
  if (bySecret.size > CACHE_LIMIT) {
    const oldest = bySecret.keys().next().value;
    if (oldest !== undefined) bySecret.delete(oldest);
  }
  return token;
}

/**
 * Verifies a token from the gateway: HS256 only (so `alg: none` and any other algorithm are refused before
 * the key is used), issuer, audience, expiry and a lifetime no longer than the gateway ever issues.
 */
export async function verifyInternalToken(
  secret: string,
  token: string | undefined,
): Promise<VerifiedInternalToken> {
  return (await verify(secret, token)).result;
}

async function verify(secret: string, token: string | undefined) {
  if (!token) throw new InternalTokenError('missing', 'no internal token');
  let payload;
  try {
    ({ payload } = await jwtVerify(token, await keyFor(secret), {
      algorithms: ['HS256'],
      issuer: INTERNAL_TOKEN_ISSUER,
      audience: INTERNAL_TOKEN_AUDIENCE,
      requiredClaims: ['exp', 'iat'],
      maxTokenAge: INTERNAL_TOKEN_TTL_SECONDS,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new InternalTokenError('expired', 'internal token expired');
    if (error instanceof errors.JOSEError) {
      throw new InternalTokenError('invalid', `internal token refused: ${error.code}`);
    }
    throw error;
  }
  const principal = principalSchema.safeParse(payload.principal);
  if (!principal.success || typeof payload.rid !== 'string') {
    throw new InternalTokenError('malformed', 'internal token carries no valid principal');
  }
  // jose bounds the age (maxTokenAge) but not the lifetime: refuse what the gateway would never issue.
  if (typeof payload.exp !== 'number' || payload.exp - (payload.iat ?? 0) > INTERNAL_TOKEN_TTL_SECONDS) {
    throw new InternalTokenError('invalid', 'internal token lives longer than the gateway issues');
  }
  return {
    result: { principal: principal.data, mintedForRequestId: payload.rid },
    // What jose accepted, tolerance included.
    acceptedUntilMs: (payload.exp + CLOCK_TOLERANCE_SECONDS) * 1000,
  };
}

/**
 * A subgraph's verifier: `verifyInternalToken` plus a small cache of tokens already verified. The gateway
 * reuses a token for up to 40 s, so a subgraph sees the same string many times; an identical string has
 * an identical, already checked signature, and only its expiry needs checking again.
 */
export function createInternalTokenVerifier(secret: string) {
  assertInternalAuthSecret(secret);
  const verified = new Map<string, { result: VerifiedInternalToken; acceptedUntilMs: number }>();
  return async (token: string | undefined): Promise<VerifiedInternalToken> => {
    if (!token) return verifyInternalToken(secret, token);
    const hit = verified.get(token);
    if (hit && Date.now() < hit.acceptedUntilMs) return hit.result;
    const checked = await verify(secret, token);
    verified.delete(token);
    verified.set(token, checked);
    if (verified.size > VERIFIED_CACHE_LIMIT) {
      const oldest = verified.keys().next().value;
      if (oldest !== undefined) verified.delete(oldest);
    }
    return checked.result;
  };
}

/**
 * Where INTERNAL_AUTH_SECRET comes from, per profile: the environment when set (it must be, in
 * production, and be the same for the gateway and every subgraph); otherwise, outside production, the
 * embedded secret generated once into DATA_DIR/secrets.json, which every service of one machine sharing
 * DATA_DIR reads alike.
 */
export function resolveInternalAuthSecret(env: {
  INTERNAL_AUTH_SECRET?: string | undefined;
  NODE_ENV: string;
  DATA_DIR: string;
}): string {
  const fromEnv = env.INTERNAL_AUTH_SECRET;
  if (fromEnv) {
    if (Buffer.byteLength(fromEnv, 'utf8') < INTERNAL_AUTH_SECRET_MIN_BYTES) {
      throw new EnvError([
        `INTERNAL_AUTH_SECRET: must be at least ${INTERNAL_AUTH_SECRET_MIN_BYTES} bytes (e.g. \`openssl rand -base64 48\`)`,
      ]);
    }
    return fromEnv;
  }
  if (env.NODE_ENV === 'production') {
    throw new EnvError([
      'INTERNAL_AUTH_SECRET: required when NODE_ENV=production; set the same value (at least 32 bytes, e.g. `openssl rand -base64 48`) for the gateway and every subgraph',
    ]);
  }
  return loadOrCreateEmbeddedSecrets(env.DATA_DIR).INTERNAL_AUTH_SECRET;
}
