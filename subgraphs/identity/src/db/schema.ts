import { sql } from 'drizzle-orm';
import { check, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';
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

export const { outbox, processedEvents } = eventTables(identity);
