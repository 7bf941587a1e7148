import { createHash, randomBytes, randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import { z } from 'zod';
import { DomainError, ErrorCode, fail, parseInput, type Cache, type SecretBox } from '@symbeon/kernel';
import type { UsersManager } from '../users/users-manager.js';
import type { TotpFactorRow, TotpStorage } from './totp-storage.js';

export const TotpErrorCode = {
  TOTP_INVALID_CODE: 'TOTP_INVALID_CODE',
  TOTP_LOCKED: 'TOTP_LOCKED',
  TOTP_NOT_ENABLED: 'TOTP_NOT_ENABLED',
  TOTP_ALREADY_ENABLED: 'TOTP_ALREADY_ENABLED',
  SECOND_FACTOR_REQUIRED: 'SECOND_FACTOR_REQUIRED',
  INVALID_CHALLENGE: 'INVALID_CHALLENGE',
} as const;

export const TOTP_ISSUER = 'Symbeon';
/** RFC 6238's defaults, the only ones every authenticator app supports: SHA-1, 6 digits, 30 s. */
const PERIOD_SECONDS = 30;
/** 160 bits, the length RFC 4226 recommends for HMAC-SHA-1. */
const SECRET_BYTES = 20;
/** Wrong codes in a row before the factor locks, and for how long. */
export const MAX_FAILED_ATTEMPTS = 5;
export const LOCK_MS = 15 * 60_000;
/** How long a sign-in challenge waits for its code. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
export const RECOVERY_CODE_COUNT = 10;
/** No 0/o, 1/i/l: codes get copied from paper. 31 symbols × 12 ≈ 59 bits, plenty for single-use codes. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const RECOVERY_CODE = new RegExp(`^[${RECOVERY_ALPHABET}]{12}$`);
const TOTP_CODE = /^\d{6}$/;

export interface SignInChallenge {
  userId: string;
  /** The sign-in method the session records once the challenge is answered (SIWE, OIDC:<provider>...). */
  method: string;
}

const challengeKey = (challenge: string) => `totp:challenge:${challenge}`;
const challengeValue = z.object({ userId: z.uuid(), method: z.string().min(1) });
const codeInput = z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters');

/** Spaces and dashes are how people copy codes; neither is part of one. */
const normalise = (code: string) => code.replace(/[\s-]/g, '').toLowerCase();
/** A fast hash is right: recovery codes are random, not passwords. */
const hashRecoveryCode = (normalised: string) => createHash('sha256').update(normalised).digest('hex');
/** The associated data binds a sealed secret to its user: a row copied to another user does not decrypt. */
const secretAad = (userId: string) => `totp:${userId}`;

function newRecoveryCode(): string {
  let code = '';
  for (let index = 0; index < 12; index += 1) code += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8)}`;
}

/** The `{ ok: false }` of a sign-in that needs a second factor, with the challenge to answer. */
export function secondFactorRequired(challenge: string) {
  return {
    ...fail(
      TotpErrorCode.SECOND_FACTOR_REQUIRED,
      'Enter a code from your authenticator app (or a recovery code) with completeSignIn',
    ),
    challenge,
  };
}

export interface TotpManagerDeps {
  storage: TotpStorage;
  box: SecretBox;
  /** Sign-in challenges (Redis in the services profile, so any replica can complete them). */
  cache: Cache;
  users: UsersManager;
  now?: () => Date;
}

/**
 * TOTP second factor (RFC 6238): enrolment, confirmation with recovery codes, removal, and the sign-in
 * step-up. Secrets are sealed with the secret box; each time step is accepted once per user; wrong codes in
 * a row lock the factor for a while.
 */
export function createTotpManager({ storage, box, cache, users, now = () => new Date() }: TotpManagerDeps) {
  function refuseWhileLocked(factor: TotpFactorRow) {
    if (factor.lockedUntil && factor.lockedUntil > now()) throw locked(factor.lockedUntil);
  }

  function locked(until: Date) {
    return new DomainError(
      TotpErrorCode.TOTP_LOCKED,
      `Too many wrong codes: try again after ${until.toISOString()}`,
      'code',
    );
  }

  /**
   * Checks a code against the factor: a TOTP code (±1 step, each step once) or, when allowed, an unused
   * recovery code (then used up). A wrong code counts towards the lock, whatever the operation.
   */
  async function checkCode(factor: TotpFactorRow, rawCode: string, allowRecovery: boolean): Promise<void> {
    const code = normalise(parseInput(codeInput, rawCode, 'code'));
    refuseWhileLocked(factor);
    const { userId } = factor;
    if (TOTP_CODE.test(code)) {
      const epoch = Math.floor(now().getTime() / 1000);
      const result = await verify({
        secret: box.decrypt(factor.secretEncrypted, secretAad(userId)),
        token: code,
        epoch,
        period: PERIOD_SECONDS,
        // ±1 step: clocks drift and people type slowly.
        epochTolerance: PERIOD_SECONDS,
      });
      const step = Math.floor(epoch / PERIOD_SECONDS) + (result.valid ? result.delta : 0);
      // A replayed step is a wrong code: whoever sends it may have watched the first use.
      if (result.valid && (await storage.acceptStep(userId, step))) return;
    } else if (allowRecovery && RECOVERY_CODE.test(code)) {
      if (await storage.useRecoveryCode(userId, hashRecoveryCode(code), now())) return;
    }
    const after = await storage.recordFailure(
      userId,
      MAX_FAILED_ATTEMPTS,
      new Date(now().getTime() + LOCK_MS),
    );
    if (after?.lockedUntil && after.lockedUntil > now()) throw locked(after.lockedUntil);
    const left = MAX_FAILED_ATTEMPTS - (after?.failedAttempts ?? 0);
    throw new DomainError(
      TotpErrorCode.TOTP_INVALID_CODE,
      `Wrong or already used code (${left} attempt${left === 1 ? '' : 's'} left before a ${LOCK_MS / 60_000}-minute lock)`,
      'code',
    );
  }

  async function enabledFactor(userId: string): Promise<TotpFactorRow> {
    const factor = await storage.findFactor(userId);
    if (!factor?.enabledAt) {
      throw new DomainError(TotpErrorCode.TOTP_NOT_ENABLED, 'Two-factor authentication is not enabled');
    }
    return factor;
  }

  return {
    /**
     * Starts (or restarts) enrolment: a new secret, sealed and pending until a code confirms it. Returns the
     * otpauth URI for authenticator apps and the same as a QR code (SVG).
     */
    async enroll(userId: string): Promise<{ otpauthUri: string; qrCodeSvg: string }> {
      const user = await users.findById(userId);
      if (!user) throw new DomainError(ErrorCode.NOT_FOUND, `No user with id "${userId}"`);
      const secret = generateSecret({ length: SECRET_BYTES });
      const saved = await storage.savePending(userId, box.encrypt(secret, secretAad(userId)), now());
      if (!saved) {
        throw new DomainError(
          TotpErrorCode.TOTP_ALREADY_ENABLED,
          'Two-factor authentication is already enabled: disable it first to enrol again',
        );
      }
      const otpauthUri = generateURI({
        issuer: TOTP_ISSUER,
        label: user.handle,
        secret,
        period: PERIOD_SECONDS,
      });
      return {
        otpauthUri,
        qrCodeSvg: await (await import('qrcode')).default.toString(otpauthUri, { type: 'svg' }),
      };
    },

    /** Enables the pending factor with a first code; returns the recovery codes, the only time they exist in clear. */
    async confirm(userId: string, code: string): Promise<{ recoveryCodes: string[] }> {
      const factor = await storage.findFactor(userId);
      if (!factor) {
        throw new DomainError(TotpErrorCode.TOTP_NOT_ENABLED, 'Enrol first (enrollTotp)');
      }
      if (factor.enabledAt) {
        throw new DomainError(
          TotpErrorCode.TOTP_ALREADY_ENABLED,
          'Two-factor authentication is already enabled',
        );
      }
      await checkCode(factor, code, false);
      const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      const hashes = recoveryCodes.map((recovery) => hashRecoveryCode(normalise(recovery)));
      if (!(await storage.enable(userId, hashes, now()))) {
        throw new DomainError(ErrorCode.CONFLICT, 'Enrolment changed meanwhile: enrol again');
      }
      return { recoveryCodes };
    },

    /** Removes the factor and its recovery codes; proving possession (a code or a recovery code) first. */
    async disable(userId: string, code: string): Promise<void> {
      await checkCode(await enabledFactor(userId), code, true);
      await storage.deleteFactor(userId);
    },

    async isEnabled(userId: string): Promise<boolean> {
      return Boolean((await storage.findFactor(userId))?.enabledAt);
    },

    /**
     * For a user who has just proven the first factor: a challenge to answer with completeChallenge when
     * the user has TOTP enabled, undefined when no second factor is needed. The challenge is opaque and
     * random; the cache holds whom it is for.
     */
    async challengeFor(userId: string, method: string): Promise<string | undefined> {
      if (!(await this.isEnabled(userId))) return undefined;
      const challenge = randomBytes(32).toString('base64url');
      const value: SignInChallenge = { userId, method };
      await cache.set(challengeKey(challenge), JSON.stringify(value), { ttlMs: CHALLENGE_TTL_MS });
      return challenge;
    },

    /**
     * Answers a challenge with a TOTP or recovery code. A wrong code leaves the challenge usable (within the
     * lock rules); a right one consumes it, so it cannot be replayed.
     */
    async completeChallenge(challenge: string, code: string): Promise<SignInChallenge> {
      const invalid = () =>
        new DomainError(
          TotpErrorCode.INVALID_CHALLENGE,
          'Unknown or expired challenge: sign in again',
          'challenge',
        );
      if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw invalid();
      const stored = await cache.get(challengeKey(challenge));
      const parsed = stored === undefined ? undefined : challengeValue.safeParse(JSON.parse(stored));
      if (!parsed?.success) throw invalid();
      await checkCode(await enabledFactor(parsed.data.userId), code, true);
      // Of two concurrent right answers only one takes the challenge (and so only one session starts).
      if ((await cache.take(challengeKey(challenge))) === undefined) throw invalid();
      return parsed.data;
    },
  };
}

export type TotpManager = ReturnType<typeof createTotpManager>;
