import DataLoader from 'dataloader';
import { inArray } from 'drizzle-orm';
import type { Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

type Executor = Pick<Db<typeof schema>, 'insert' | 'select'>;

/** certification's projection of identity's users (see db/schema.ts `knownUsers`). */
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

export type KnownUsersStorage = ReturnType<typeof createKnownUsersStorage>;

export function createKnownUserLoaders(storage: KnownUsersStorage) {
  return {
    userKnown: new DataLoader<string, boolean>(async (ids) => {
      const existing = await storage.findExisting(ids);
      return ids.map((id) => existing.has(id));
    }),
  };
}
