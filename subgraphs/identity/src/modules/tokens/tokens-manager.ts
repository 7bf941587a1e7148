import { randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { z } from 'zod';
import type { Logger, SecretBox } from '@symbeon/kernel';
import { scopesForRoles } from './scopes.js';
import type { SigningKeyRow, TokensStorage } from './tokens-storage.js';

export interface TokenConfig {
  /** `iss` of every access token; verifiers pin it. */
  issuer: string;
  /** `aud` of every access token; verifiers pin it. */
  audience: string;
  accessTokenTtlSeconds: number;
  /** How long a new key is in the JWKS before it signs, so verifiers' cached key sets already hold it. */
  keyPublishLeadSeconds: number;
  /** How long a key signs. */
  keyRotationIntervalSeconds: number;
}

/**
 * Clock difference tolerated between identity and the verifiers: a key stays published this much longer
 * than its last token's `exp`, and revocation markers outlive the tokens they stop by as much.
 */
export const CLOCK_SKEW_SECONDS = 300;

/** Who an access token is for. */
export interface AccessTokenSubject {
  userId: string;
  sessionId: string;
  roles: readonly string[];
  /** The session's absolute end: a token never outlives its session. */
  notAfter?: Date;
}

export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  sid: string;
  roles: string[];
  scopes: string[];
  /** Rate-limit tier: users are FREE; API keys carry their own. */
  tier: 'FREE';
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
}

export interface IssuedAccessToken {
  token: string;
  kid: string;
  expiresAt: Date;
  claims: AccessTokenClaims;
}

/**
 * A signing key ready to use. Signing touches no database, so callers prepare the signer first and sign
 * inside their transaction (an embedded PGlite cannot run a statement beside an open transaction).
 */
export interface AccessTokenSigner {
  kid: string;
  sign(subject: AccessTokenSubject): Promise<IssuedAccessToken>;
}

interface KeyTimes {
  createdAt: Date;
  activatesAt: Date;
  retiresAt: Date;
  expiresAt: Date;
}

type PrivateKey = Parameters<SignJWT['sign']>[0];

// Only the public members of an RSA key: whatever else a row holds never reaches the JWKS.
const publicJwk = z.object({
  kty: z.literal('RSA'),
  kid: z.string().min(1),
  alg: z.literal('RS256'),
  use: z.literal('sig'),
  n: z.string().min(1),
  e: z.string().min(1),
});

const addSeconds = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000);

/** How often a replica runs a rotation pass and re-reads the key list: well inside the publish lead. */
export function rotationCheckMs(config: TokenConfig): number {
  return Math.min(60_000, Math.max(1_000, (config.keyPublishLeadSeconds * 1000) / 2));
}

function schedule(config: TokenConfig, createdAt: Date, activatesAt: Date): KeyTimes {
  const retiresAt = addSeconds(activatesAt, config.keyRotationIntervalSeconds);
  const expiresAt = addSeconds(retiresAt, config.accessTokenTtlSeconds + CLOCK_SKEW_SECONDS);
  return { createdAt, activatesAt, retiresAt, expiresAt };
}

/** The key that signs at `now`: in its signing window, the most recently activated one. */
export function signingKeyAt<T extends KeyTimes>(keys: readonly T[], now: Date): T | undefined {
  let chosen: T | undefined;
  for (const key of keys) {
    if (key.activatesAt > now || now >= key.retiresAt) continue;
    if (!chosen || key.activatesAt > chosen.activatesAt) chosen = key;
  }
  return chosen;
}

/**
 * What a rotation pass does at `now`: drop keys past their JWKS life, make sure a key signs now, and
 * publish the next one early enough that it is `keyPublishLeadSeconds` old when the current one retires.
 * The next key is created within one check of that deadline (so it activates just before the current key
 * retires and takes over, being the latest activated). Pure: replicas plan the same from the same rows.
 */
export function planRotation(
  keys: ReadonlyArray<KeyTimes & { kid: string }>,
  now: Date,
  config: TokenConfig,
): { expired: string[]; create: KeyTimes[] } {
  const expired = keys.filter((key) => key.expiresAt <= now).map((key) => key.kid);
  const live: KeyTimes[] = keys.filter((key) => key.expiresAt > now);
  const create: KeyTimes[] = [];
  let current = signingKeyAt(live, now);
  if (!current) {
    // First start, or no pass ran for longer than a key's signing window: nothing could have been
    // published in advance, so this key signs at once (verifiers refetch the JWKS for an unknown kid).
    current = schedule(config, now, now);
    create.push(current);
  }
  const nextPublished = [...live, ...create].some((key) => key.activatesAt > now);
  const createNextBy = addSeconds(
    current.retiresAt,
    -config.keyPublishLeadSeconds - rotationCheckMs(config) / 1000,
  );
  if (!nextPublished && now >= createNextBy) {
    create.push(schedule(config, now, addSeconds(now, config.keyPublishLeadSeconds)));
  }
  return { expired, create };
}

async function newKeyPair() {
  const pair = await generateKeyPair('RS256', { extractable: true });
  const exported = await exportJWK(pair.publicKey);
  const kid = await calculateJwkThumbprint(exported);
  return {
    kid,
    publicJwk: publicJwk.parse({ ...exported, kid, alg: 'RS256', use: 'sig' }),
    privateJwk: { ...(await exportJWK(pair.privateKey)), kid, alg: 'RS256' } satisfies JWK,
  };
}

export interface TokenManagerDeps {
  storage: TokensStorage;
  /** Seals private keys at rest; the associated data is the kid, so a sealed key cannot be moved to another row. */
  box: SecretBox;
  config: TokenConfig;
  logger?: Logger;
  /** The clock; tests move it. */
  now?: () => Date;
}

export function createTokenManager(deps: TokenManagerDeps) {
  const { storage, box, config } = deps;
  const clock = deps.now ?? (() => new Date());
  const checkMs = rotationCheckMs(config);
  // Key metadata, re-read at every check interval so keys published by other replicas are seen in time.
  let snapshot: { keys: SigningKeyRow[]; freshUntil: number } | undefined;
  // Decrypted private keys by kid: decrypted once, dropped when the key leaves the table.
  const privateKeys = new Map<string, Promise<PrivateKey>>();

  async function readKeys(now: Date): Promise<SigningKeyRow[]> {
    const keys = await storage.listKeys();
    snapshot = { keys, freshUntil: now.getTime() + checkMs };
    const present = new Set(keys.map((key) => key.kid));
    for (const kid of privateKeys.keys()) if (!present.has(kid)) privateKeys.delete(kid);
    return keys;
  }

  function privateKey(kid: string): Promise<PrivateKey> {
    let loading = privateKeys.get(kid);
    if (!loading) {
      loading = (async () => {
        const sealed = await storage.findSealedPrivateKey(kid);
        if (!sealed) throw new Error(`Signing key ${kid} is no longer stored`);
        let jwk: JWK;
        try {
          jwk = JSON.parse(box.decrypt(sealed, kid)) as JWK;
        } catch (error) {
          throw new Error(
            `Signing key ${kid} cannot be decrypted: it was altered, or sealed under a SECRETS_KEY this ` +
              'service does not hold (see SECRETS_PREVIOUS_KEYS)',
            { cause: error },
          );
        }
        return importJWK(jwk, 'RS256');
      })();
      privateKeys.set(kid, loading);
      // A failed load is retried by the next caller instead of being remembered.
      const attempt = loading;
      void attempt.catch(() => {
        if (privateKeys.get(kid) === attempt) privateKeys.delete(kid);
      });
    }
    return loading;
  }

  let rotating: Promise<{ created: string[]; deleted: string[] }> | undefined;

  async function rotateOnce(): Promise<{ created: string[]; deleted: string[] }> {
    const now = clock();
    const draft = planRotation(await storage.listKeys(), now, config);
    if (draft.create.length === 0 && draft.expired.length === 0) return { created: [], deleted: [] };
    // RSA generation takes ~100 ms: done before the lock, since on the embedded database an open
    // transaction holds up every service. A replica that loses the race discards its pairs.
    const pairs = await Promise.all(draft.create.map(() => newKeyPair()));
    const result = await storage.withRotationLock(async (locked) => {
      const plan = planRotation(await locked.listKeys(), now, config);
      await locked.deleteKeys(plan.expired);
      const created: string[] = [];
      for (const times of plan.create) {
        const pair = pairs.shift() ?? (await newKeyPair());
        await locked.insertKey({
          kid: pair.kid,
          publicJwk: pair.publicJwk,
          privateJwkEncrypted: box.encrypt(JSON.stringify(pair.privateJwk), pair.kid),
          ...times,
        });
        created.push(pair.kid);
      }
      return { created, deleted: plan.expired };
    });
    snapshot = undefined;
    if (result.created.length > 0 || result.deleted.length > 0) {
      deps.logger?.info(result, 'signing keys rotated');
    }
    return result;
  }

  async function signWith(kid: string, key: PrivateKey, subject: AccessTokenSubject) {
    const iat = Math.floor(clock().getTime() / 1000);
    const ceiling = subject.notAfter ? Math.floor(subject.notAfter.getTime() / 1000) : Infinity;
    const exp = Math.min(iat + config.accessTokenTtlSeconds, ceiling);
    const roles = [...subject.roles];
    const claims: AccessTokenClaims = {
      iss: config.issuer,
      aud: config.audience,
      sub: subject.userId,
      sid: subject.sessionId,
      roles,
      scopes: scopesForRoles(roles),
      tier: 'FREE',
      iat,
      nbf: iat,
      exp,
      jti: randomUUID(),
    };
    const token = await new SignJWT({
      sid: claims.sid,
      roles: claims.roles,
      scopes: claims.scopes,
      tier: claims.tier,
    })
      // RFC 9068 type: verifiers can refuse other JWTs (ID tokens, internal tokens) offered as access tokens.
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
      .setIssuer(claims.iss)
      .setAudience(claims.aud)
      .setSubject(claims.sub)
      .setIssuedAt(claims.iat)
      .setNotBefore(claims.nbf)
      .setExpirationTime(claims.exp)
      .setJti(claims.jti)
      .sign(key);
    return { token, kid, expiresAt: new Date(exp * 1000), claims };
  }

  const manager = {
    config,

    /**
     * One rotation pass (see planRotation). Safe to run on every replica at once; concurrent calls in
     * this process share one pass.
     */
    rotateKeys(): Promise<{ created: string[]; deleted: string[] }> {
      rotating ??= rotateOnce().finally(() => {
        rotating = undefined;
      });
      return rotating;
    },

    /** Runs a rotation pass every check interval; the timer never keeps the process alive. */
    startKeyRotation(): () => void {
      const timer = setInterval(() => {
        manager.rotateKeys().catch((error: unknown) => {
          deps.logger?.error({ err: error }, 'signing key rotation failed');
        });
      }, checkMs);
      timer.unref();
      return () => clearInterval(timer);
    },

    /** The key signing now, decrypted. Runs a rotation pass itself if no key is active. */
    async signer(): Promise<AccessTokenSigner> {
      const now = clock();
      let current =
        snapshot && now.getTime() < snapshot.freshUntil ? signingKeyAt(snapshot.keys, now) : undefined;
      current ??= signingKeyAt(await readKeys(now), now);
      if (!current) {
        await manager.rotateKeys();
        current = signingKeyAt(await readKeys(now), now);
      }
      if (!current) throw new Error('No signing key is active after a rotation pass');
      const kid = current.kid;
      const key = await privateKey(kid);
      return { kid, sign: (subject) => signWith(kid, key, subject) };
    },

    async issueAccessToken(subject: AccessTokenSubject): Promise<IssuedAccessToken> {
      return (await manager.signer()).sign(subject);
    },

    /** The public keys verifiers accept now: every key until its last token has expired. */
    async jwks(): Promise<JSONWebKeySet> {
      const now = clock();
      const keys = await storage.listKeys();
      return { keys: keys.filter((key) => now < key.expiresAt).map((key) => publicJwk.parse(key.publicJwk)) };
    },
  };
  return manager;
}

export type TokenManager = ReturnType<typeof createTokenManager>;
