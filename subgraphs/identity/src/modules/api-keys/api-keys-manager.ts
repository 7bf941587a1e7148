import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DomainError, ErrorCode, parseInput } from '@symbeon/kernel';
import type { ApiKeyRow, ApiKeysStorage } from './api-keys-storage.js';

export const TIERS = ['FREE', 'PRO', 'ENTERPRISE'] as const;
export type Tier = (typeof TIERS)[number];

/**
 * Keys look like `sk_<prefix>_<secret>`: the prefix (public, unique) finds the row, the secret (256 bits)
 * is checked against its SHA-256. A fast hash is right here: the secret is random, not a password.
 */
const KEY = /^sk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const hash = (secret: string) => createHash('sha256').update(secret).digest();

const createInput = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
  tier: z.enum(TIERS),
  scopes: z
    .array(z.string().regex(/^[a-z]+:[a-z]+$/, 'must look like area:action'))
    .min(1, 'give at least one scope')
    .max(50)
    .transform((list) => [...new Set(list)].sort()),
  expiresAt: z.date().nullish(),
});

export interface KeyOwner {
  userId: string;
  roles: readonly string[];
  scopes: readonly string[];
}

export interface VerifiedApiKey {
  keyId: string;
  userId: string;
  tier: Tier;
  /** The key's scopes that its owner still holds: losing a role narrows every key at once. */
  scopes: string[];
}

export const API_KEY_INVALID = 'API_KEY_INVALID';

export function createApiKeysManager(
  storage: ApiKeysStorage,
  ownerOf: (userId: string) => Promise<KeyOwner | undefined>,
  now: () => Date = () => new Date(),
) {
  return {
    /** Returns the key in clear once; only its hash is kept. */
    async create(owner: KeyOwner | undefined, input: unknown): Promise<{ key: string; row: ApiKeyRow }> {
      if (!owner) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
      const values = parseInput(createInput, input);
      // Paid tiers are assigned by the platform, not chosen by the key's owner.
      if (values.tier !== 'FREE' && !owner.roles.includes('ADMIN')) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          `Only administrators issue ${values.tier} keys`,
          'input.tier',
        );
      }
      const missing = values.scopes.filter((scope) => !owner.scopes.includes(scope));
      if (missing.length > 0) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          `You do not hold these scopes: ${missing.join(', ')}`,
          'input.scopes',
        );
      }
      if (values.expiresAt && values.expiresAt <= now()) {
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          'input.expiresAt: must be in the future',
          'input.expiresAt',
        );
      }
      const prefix = randomBytes(9)
        .toString('base64url')
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '0')
        .slice(0, 12);
      const secret = randomBytes(32).toString('base64url');
      const row = await storage.insert({
        userId: owner.userId,
        name: values.name,
        prefix,
        secretHash: hash(secret).toString('hex'),
        tier: values.tier,
        scopes: values.scopes,
        expiresAt: values.expiresAt ?? null,
      });
      return { key: `sk_${prefix}_${secret}`, row };
    },

    list: (userId: string) => storage.listForUser(userId),

    async revoke(owner: KeyOwner | undefined, id: string): Promise<ApiKeyRow> {
      if (!owner) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Sign in first');
      const row = z.uuid().safeParse(id).success ? await storage.revoke(id, owner.userId) : undefined;
      if (!row) throw new DomainError(ErrorCode.NOT_FOUND, 'No such active key of yours', 'id');
      return row;
    },

    /** For the gateway: the key's principal, or API_KEY_INVALID (one code whatever the reason). */
    async verify(key: string): Promise<VerifiedApiKey> {
      const invalid = () => new DomainError(API_KEY_INVALID, 'Invalid API key');
      const match = KEY.exec(key);
      if (!match) throw invalid();
      const row = await storage.findByPrefix(match[1]!);
      if (!row) throw invalid();
      const expected = Buffer.from(row.secretHash, 'hex');
      if (!timingSafeEqual(expected, hash(match[2]!))) throw invalid();
      if (row.revokedAt || (row.expiresAt && row.expiresAt <= now())) throw invalid();
      const owner = await ownerOf(row.userId);
      if (!owner) throw invalid();
      await storage.touch(row.id);
      return {
        keyId: row.id,
        userId: row.userId,
        tier: row.tier,
        scopes: row.scopes.filter((scope) => owner.scopes.includes(scope)),
      };
    },
  };
}

export type ApiKeysManager = ReturnType<typeof createApiKeysManager>;
