import { and, desc, eq, isNull } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { IdentityDb } from '../users/users-storage.js';

export type ApiKeyRow = typeof schema.apiKeys.$inferSelect;
export type NewApiKey = Omit<
  typeof schema.apiKeys.$inferInsert,
  'id' | 'createdAt' | 'lastUsedAt' | 'revokedAt'
>;

export function createApiKeysStorage(db: IdentityDb) {
  return {
    async insert(key: NewApiKey): Promise<ApiKeyRow> {
      const [row] = await db.insert(schema.apiKeys).values(key).returning();
      return row!;
    },
    async findByPrefix(prefix: string): Promise<ApiKeyRow | undefined> {
      const [row] = await db.select().from(schema.apiKeys).where(eq(schema.apiKeys.prefix, prefix));
      return row;
    },
    async listForUser(userId: string): Promise<ApiKeyRow[]> {
      return db
        .select()
        .from(schema.apiKeys)
        .where(eq(schema.apiKeys.userId, userId))
        .orderBy(desc(schema.apiKeys.createdAt));
    },
    /** Revokes the owner's key; undefined when there is no such active key of theirs. */
    async revoke(id: string, userId: string): Promise<ApiKeyRow | undefined> {
      const [row] = await db
        .update(schema.apiKeys)
        .set({ revokedAt: new Date() })
        .where(
          and(eq(schema.apiKeys.id, id), eq(schema.apiKeys.userId, userId), isNull(schema.apiKeys.revokedAt)),
        )
        .returning();
      return row;
    },
    async touch(id: string): Promise<void> {
      await db.update(schema.apiKeys).set({ lastUsedAt: new Date() }).where(eq(schema.apiKeys.id, id));
    },
  };
}

export type ApiKeysStorage = ReturnType<typeof createApiKeysStorage>;
