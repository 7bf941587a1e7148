import DataLoader from 'dataloader';
import { and, eq, inArray } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { IdentityDb } from '../users/users-storage.js';

export type OidcAccountRow = typeof schema.oidcAccounts.$inferSelect;

export function createOidcStorage(db: IdentityDb) {
  return {
    async find(provider: string, subject: string): Promise<OidcAccountRow | undefined> {
      const [row] = await db
        .select()
        .from(schema.oidcAccounts)
        .where(and(eq(schema.oidcAccounts.provider, provider), eq(schema.oidcAccounts.subject, subject)));
      return row;
    },
    /**
     * Links the provider's subject to the user unless it is linked already; returns the row as stored (possibly
     * another user's). Pass the transaction when the link belongs to a larger change (a new user).
     */
    async link(
      within: IdentityDb | undefined,
      account: { userId: string; provider: string; subject: string; emailEncrypted: string | null },
    ): Promise<OidcAccountRow> {
      const executor = within ?? db;
      const [inserted] = await executor
        .insert(schema.oidcAccounts)
        .values({ ...account, lastSignInAt: new Date() })
        .onConflictDoNothing()
        .returning();
      if (inserted) return inserted;
      const [existing] = await executor
        .select()
        .from(schema.oidcAccounts)
        .where(
          and(
            eq(schema.oidcAccounts.provider, account.provider),
            eq(schema.oidcAccounts.subject, account.subject),
          ),
        );
      return existing!;
    },
    async touch(id: string, emailEncrypted: string | null): Promise<void> {
      await db
        .update(schema.oidcAccounts)
        .set({ lastSignInAt: new Date(), ...(emailEncrypted ? { emailEncrypted } : {}) })
        .where(eq(schema.oidcAccounts.id, id));
    },
    async findByUsers(userIds: readonly string[]): Promise<OidcAccountRow[]> {
      if (userIds.length === 0) return [];
      return db
        .select()
        .from(schema.oidcAccounts)
        .where(inArray(schema.oidcAccounts.userId, [...userIds]))
        .orderBy(schema.oidcAccounts.linkedAt);
    },
  };
}

export type OidcStorage = ReturnType<typeof createOidcStorage>;

export function createOidcLoaders(storage: OidcStorage) {
  return {
    oidcAccountsByUser: new DataLoader<string, OidcAccountRow[]>(async (userIds) => {
      const rows = await storage.findByUsers(userIds);
      return userIds.map((id) => rows.filter((row) => row.userId === id));
    }),
  };
}
