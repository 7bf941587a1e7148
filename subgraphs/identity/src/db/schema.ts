import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { eventTables } from '@symbeon/kernel';

export const identity = pgSchema('identity');

/**
 * People and organisations. Only the public profile lives here; credentials (wallets, OIDC accounts,
 * sessions, API keys) get their own tables keyed by user id, so a user can have several of each.
 */
export const users = identity.table(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // Lower-case, unique, used in profile URLs; see HANDLE in users-manager.ts.
    handle: text('handle').notNull().unique(),
    displayName: text('display_name').notNull(),
    avatarUrl: text('avatar_url'),
    bio: text('bio'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [check('users_handle_lower', sql`${table.handle} = lower(${table.handle})`)],
);

const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

/** Ethereum accounts linked to a user by Sign-In with Ethereum (EIP-4361). */
export const wallets = identity.table('wallets', {
  // Lower-case 0x address; the API shows the EIP-55 checksum form.
  address: text('address').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => users.id),
  // Chain id of the message that linked it.
  chainId: integer('chain_id').notNull(),
  linkedAt: at('linked_at').notNull().defaultNow(),
  lastSignInAt: at('last_sign_in_at'),
});

/** Accounts at OpenID Providers, linked to users by the provider's `sub`. */
export const oidcAccounts = identity.table(
  'oidc_accounts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    provider: text('provider').notNull(),
    subject: text('subject').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    // PII kept for account recovery: AES-256-GCM (kernel secret box), never logged.
    emailEncrypted: text('email_encrypted'),
    linkedAt: at('linked_at').notNull().defaultNow(),
    lastSignInAt: at('last_sign_in_at'),
  },
  (table) => [unique('oidc_accounts_provider_subject').on(table.provider, table.subject)],
);

/** A signed-in device or client. Access tokens carry its id (`sid`); revoking it stops them at once. */
export const sessions = identity.table(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    // SIWE, OIDC:<provider>...
    method: text('method').notNull(),
    userAgent: text('user_agent'),
    createdAt: at('created_at').notNull().defaultNow(),
    lastUsedAt: at('last_used_at').notNull().defaultNow(),
    // Absolute end: refreshing never extends a session past it.
    expiresAt: at('expires_at').notNull(),
    revokedAt: at('revoked_at'),
    revokedReason: text('revoked_reason'),
  },
  (table) => [index('sessions_user_idx').on(table.userId)],
);

/**
 * Opaque refresh tokens, stored as SHA-256 hashes. Each use replaces the token (rotation); presenting a used
 * one again revokes the whole session (the token family).
 */
export const refreshTokens = identity.table(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id),
    createdAt: at('created_at').notNull().defaultNow(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
  },
  (table) => [index('refresh_tokens_session_idx').on(table.sessionId)],
);

/**
 * RS256 keys signing access tokens. A key is published in the JWKS from `createdAt`, signs from `activatesAt`
 * (after caches have seen it), stops signing at `retiresAt`, and leaves the JWKS at `expiresAt` (after the
 * last token it signed has expired).
 */
export const signingKeys = identity.table('signing_keys', {
  kid: text('kid').primaryKey(),
  publicJwk: jsonb('public_jwk').notNull(),
  // AES-256-GCM under the secret provider's key (kernel secret box).
  privateJwkEncrypted: text('private_jwk_encrypted').notNull(),
  createdAt: at('created_at').notNull().defaultNow(),
  activatesAt: at('activates_at').notNull(),
  retiresAt: at('retires_at').notNull(),
  expiresAt: at('expires_at').notNull(),
});

/** Roles held by users (MEMBER is implicit). */
export const roleGrants = identity.table(
  'role_grants',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    role: text('role', { enum: ['INSTRUCTOR', 'AUDITOR', 'ISSUER', 'ADMIN'] }).notNull(),
    grantedBy: uuid('granted_by'),
    grantedAt: at('granted_at').notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.role] })],
);

/** Every role change: who, when, what. Append-only. */
export const roleChanges = identity.table(
  'role_changes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull(),
    role: text('role').notNull(),
    action: text('action', { enum: ['GRANT', 'REVOKE'] }).notNull(),
    // Null when the platform itself acted (bootstrap).
    actorId: uuid('actor_id'),
    reason: text('reason'),
    at: at('at').notNull().defaultNow(),
  },
  (table) => [index('role_changes_user_idx').on(table.userId, table.at)],
);

/** API keys: shown once, stored as a hash beside a public prefix that identifies them. */
export const apiKeys = identity.table(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    name: text('name').notNull(),
    prefix: text('prefix').notNull().unique(),
    secretHash: text('secret_hash').notNull(),
    tier: text('tier', { enum: ['FREE', 'PRO', 'ENTERPRISE'] }).notNull(),
    scopes: text('scopes').array().notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    lastUsedAt: at('last_used_at'),
    expiresAt: at('expires_at'),
    revokedAt: at('revoked_at'),
  },
  (table) => [index('api_keys_user_idx').on(table.userId)],
);

/** TOTP second factor (RFC 6238). */
export const totpFactors = identity.table('totp_factors', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id),
  // AES-256-GCM (kernel secret box).
  secretEncrypted: text('secret_encrypted').notNull(),
  createdAt: at('created_at').notNull().defaultNow(),
  // Null until the first code confirms enrolment.
  enabledAt: at('enabled_at'),
  // Replay protection: a time step is accepted once.
  lastUsedStep: integer('last_used_step'),
  failedAttempts: integer('failed_attempts').notNull().default(0),
  lockedUntil: at('locked_until'),
});

/** One-time recovery codes for the second factor, stored hashed. */
export const recoveryCodes = identity.table(
  'recovery_codes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    codeHash: text('code_hash').notNull(),
    usedAt: at('used_at'),
  },
  (table) => [index('recovery_codes_user_idx').on(table.userId)],
);

export const { outbox, processedEvents } = eventTables(identity);
