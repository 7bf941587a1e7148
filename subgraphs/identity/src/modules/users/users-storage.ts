import DataLoader from 'dataloader';
import { eq, inArray } from 'drizzle-orm';
import { recordEvent, type Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

export type IdentityDb = Db<typeof schema>;
export type UserRow = typeof schema.users.$inferSelect;
export type NewUser = Pick<typeof schema.users.$inferInsert, 'handle' | 'displayName' | 'avatarUrl' | 'bio'>;

const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };

export const UserCreated = 'identity.UserCreated';
export interface UserCreatedPayload {
  userId: string;
  handle: string;
}

export function createUsersStorage(db: IdentityDb) {
  return {
    /**
     * Inserts the user and announces it in one transaction; undefined when the handle is taken. `andThen`
     * runs in the same transaction (e.g. linking the wallet the user signed in with).
     */
    async insertUser(
      user: NewUser,
      andThen?: (tx: IdentityDb, row: UserRow) => Promise<void>,
    ): Promise<UserRow | undefined> {
      return db.transaction(async (tx) => {
        const [row] = await tx.insert(schema.users).values(user).onConflictDoNothing().returning();
        if (!row) return undefined;
        await recordEvent<UserCreatedPayload>(tx, tables, UserCreated, {
          userId: row.id,
          handle: row.handle,
        });
        await andThen?.(tx, row);
        return row;
      });
    },
    async isHandleTaken(handle: string): Promise<boolean> {
      const [row] = await db
        .select({ id: schema.users.id })
        .from(schema.users)
        .where(eq(schema.users.handle, handle))
        .limit(1);
      return row !== undefined;
    },
    async findByHandle(handle: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(schema.users).where(eq(schema.users.handle, handle)).limit(1);
      return row;
    },
    /** Batch lookup for DataLoader: one statement for any number of ids. */
    async findByIds(ids: readonly string[]): Promise<UserRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(schema.users)
        .where(inArray(schema.users.id, [...ids]));
    },
  };
}

export type UsersStorage = ReturnType<typeof createUsersStorage>;

/** Per-request loaders: every User lookup in one request (fields, `_entities`) is one statement. */
export function createUserLoaders(storage: UsersStorage) {
  return {
    userById: new DataLoader<string, UserRow | null>(async (ids) => {
      const rows = await storage.findByIds(ids);
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}

export type UserLoaders = ReturnType<typeof createUserLoaders>;
