import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import {
  ANONYMOUS,
  tiers,
  type ApiKeyPrincipal,
  type Cache,
  type Principal,
  type UserPrincipal,
} from '@symbeon/kernel';
import { ApiKeyRefusedError } from './api-key-client.js';
import { isSessionRevoked } from './session-revocation.js';

/** Why a credential was refused: logged, counted and tested; clients see `publicMessage` only. */
export type AuthFailureReason =
  | 'scheme'
  | 'malformed'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'expired'
  | 'not-yet-valid'
  | 'issuer'
  | 'audience'
  | 'claims'
  | 'revoked'
  | 'api-key';

/**
 * Reasons a client may be told. Telling "expired" from "revoked" lets a client refresh or sign in again;
 * everything else is "invalid token", so the answer never says which check a forged token failed.
 */
function publicMessage(reason: AuthFailureReason): string {
  switch (reason) {
    case 'expired':
      return 'token expired';
    case 'not-yet-valid':
      return 'token not yet valid';
    case 'revoked':
      return 'session revoked';
    case 'scheme':
      return 'unsupported authorization scheme: use Authorization: Bearer <token>';
    case 'api-key':
      return 'invalid API key';
    default:
      return 'invalid token';
  }
}

/** The caller presented credentials that do not hold: HTTP 401, never a silent fall-back to anonymous. */
export class AuthenticationError extends Error {
  readonly publicMessage: string;
  constructor(readonly reason: AuthFailureReason) {
    super(`authentication failed: ${reason}`);
    this.name = 'AuthenticationError';
    this.publicMessage = publicMessage(reason);
  }
}

/**
 * The gateway could not check the credentials (JWKS or revocation store unreachable): HTTP 503. Not a 401:
 * the caller's token may be fine, and a 401 would make clients throw away a good session.
 */
export class AuthenticationUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthenticationUnavailableError';
  }
}

export interface AuthenticatorOptions {
  /** Identity's JWKS; undefined while no supergraph names an identity subgraph and AUTH_JWKS_URL is unset. */
  jwksUrl: () => URL | undefined;
  issuer: string;
  audience: string;
  /** The Cache port (namespace `auth`) identity writes revoked sessions to. */
  cache: Cache;
  /** Least time between two JWKS fetches triggered by unknown `kid`s (jose's cooldown; default 30 s). */
  jwksCooldownMs?: number;
  /** Time limit of one JWKS fetch (default 3 s). */
  jwksTimeoutMs?: number;
  /** Who an X-API-Key belongs to (identity); throws ApiKeyRefusedError for a bad key. */
  verifyApiKey?: (key: string) => Promise<ApiKeyPrincipal>;
}

const CLOCK_TOLERANCE_SECONDS = 5;
/** How long a verified token is trusted without verifying its signature again, and how many are kept. */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

const accessClaims = z.object({
  sub: z.string().min(1).max(200),
  sid: z.string().min(1).max(200),
  roles: z.array(z.string().min(1).max(200)).max(500).default([]),
  scopes: z.array(z.string().min(1).max(200)).max(500).default([]),
  tier: z.enum(tiers).default('FREE'),
});

function failureOf(error: unknown): AuthFailureReason | undefined {
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
    return 'unknown-key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'not-yet-valid';
    if (error.claim === 'iss') return 'issuer';
    if (error.claim === 'aud') return 'audience';
    return 'claims';
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported
  )
    return 'malformed';
  // Anything else (fetch failures, a JWKS jose cannot read, keys it refuses) is on our side, not the token's.
  return undefined;
}

/**
 * Establishes who is calling from the request's credentials, before Apollo parses anything:
 * `Authorization: Bearer <access token>` (identity's JWT, RS256, checked against its JWKS), `X-API-Key`
 * (verified by identity, briefly remembered), or nothing (anonymous). No other header is ever read.
 */
export function createAuthenticator(options: AuthenticatorOptions) {
  // createRemoteJWKSet caches the key set, refetches it for an unknown kid at most once per cooldown, and
  // coalesces concurrent fetches. One per URL: the supergraph may move identity on reload.
  let jwks: { href: string; keys: ReturnType<typeof createRemoteJWKSet> } | undefined;
  const keySet = () => {
    const url = options.jwksUrl();
    if (!url) throw new AuthenticationUnavailableError('no JWKS URL: set AUTH_JWKS_URL or route identity');
    if (jwks?.href !== url.href) {
      jwks = {
        href: url.href,
        keys: createRemoteJWKSet(url, {
          cooldownDuration: options.jwksCooldownMs ?? 30_000,
          timeoutDuration: options.jwksTimeoutMs ?? 3_000,
        }),
      };
    }
    return jwks.keys;
  };

  // Tokens whose signature and claims were verified, by their exact text: a client sends the same token for
  // up to 15 minutes, and an RS256 verification is most of authentication's cost. The revocation check
  // still runs on every request; `exp` is re-checked; an entry lives at most VERIFIED_TTL_MS, so a key
  // withdrawn from the JWKS stops being honoured within that time.
  const verified = new Map<string, { claims: z.infer<typeof accessClaims>; expMs: number; until: number }>();

  function rememberVerified(token: string, claims: z.infer<typeof accessClaims>, exp: number) {
    if (verified.size >= VERIFIED_MAX) {
      // Oldest first (Map keeps insertion order): drop a tenth at once rather than one per insert.
      let drop = Math.ceil(VERIFIED_MAX / 10);
      for (const key of verified.keys()) {
        verified.delete(key);
        if (--drop === 0) break;
      }
    }
    verified.set(token, { claims, expMs: exp * 1000, until: Date.now() + VERIFIED_TTL_MS });
  }

  async function verifiedClaims(token: string): Promise<z.infer<typeof accessClaims>> {
    const known = verified.get(token);
    if (known) {
      const now = Date.now();
      if (now < known.until && now < known.expMs + CLOCK_TOLERANCE_SECONDS * 1000) return known.claims;
      verified.delete(token);
      if (now >= known.expMs + CLOCK_TOLERANCE_SECONDS * 1000) throw new AuthenticationError('expired');
    }
    const keys = keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        // Pinned: refuses `none`, and HS256 "signed" with the public key as an HMAC secret, before any key
        // is looked up.
        algorithms: ['RS256'],
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ['sub', 'sid', 'exp'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      const reason = failureOf(error);
      if (reason) throw new AuthenticationError(reason);
      throw new AuthenticationUnavailableError('could not verify the access token (JWKS unavailable?)', {
        cause: error,
      });
    }
    const claims = accessClaims.safeParse(payload);
    if (!claims.success) throw new AuthenticationError('claims');
    rememberVerified(token, claims.data, payload.exp!);
    return claims.data;
  }

  async function verifyAccessToken(token: string): Promise<UserPrincipal> {
    const claims = { data: await verifiedClaims(token) };
    let revoked: boolean;
    try {
      revoked = await isSessionRevoked(options.cache, claims.data.sid);
    } catch (error) {
      // Fail closed: a session we cannot check might be revoked.
      throw new AuthenticationUnavailableError('could not check session revocation', { cause: error });
    }
    if (revoked) throw new AuthenticationError('revoked');
    return {
      kind: 'user',
      userId: claims.data.sub,
      sessionId: claims.data.sid,
      roles: claims.data.roles,
      scopes: claims.data.scopes,
      tier: claims.data.tier,
    };
  }

  async function authenticate(headers: IncomingHttpHeaders): Promise<Principal> {
    // Present at all, even empty or beside a bearer token: a credential was meant, so never anonymous.
    const apiKey = headers['x-api-key'];
    if (apiKey !== undefined) {
      if (typeof apiKey !== 'string' || !options.verifyApiKey) throw new AuthenticationError('api-key');
      try {
        return await options.verifyApiKey(apiKey);
      } catch (error) {
        if (error instanceof ApiKeyRefusedError) throw new AuthenticationError('api-key');
        throw new AuthenticationUnavailableError('could not check the API key', { cause: error });
      }
    }
    const authorization = headers.authorization;
    if (authorization === undefined) return ANONYMOUS;
    const match = BEARER.exec(authorization);
    if (!match) {
      throw new AuthenticationError(/^Bearer\b/i.test(authorization.trim()) ? 'malformed' : 'scheme');
    }
    return verifyAccessToken(match[1]!);
  }

  return { authenticate, verifyAccessToken };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
