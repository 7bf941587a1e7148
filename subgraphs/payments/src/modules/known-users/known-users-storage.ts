import { inArray } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { Executor } from '../orders/orders-storage.js';

/** payments' projection of identity's users (see db/schema.ts `knownUsers`): buyers' handles on invoices. */
export function createKnownUsersStorage(db: Executor) {
  return {
    async remember(tx: Executor, userId: string, handle: string): Promise<void> {
      await tx.insert(schema.knownUsers).values({ userId, handle }).onConflictDoNothing();
    },
    async findExisting(ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const rows = await db
        .select({ userId: schema.knownUsers.userId })
        .from(schema.knownUsers)
        .where(inArray(schema.knownUsers.userId, [...ids]));
      return new Set(rows.map((row) => row.userId));
    },
  };
}
