import DataLoader from 'dataloader';
import { and, desc, eq, inArray } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { IdentityDb } from '../users/users-storage.js';

export type GrantableRole = (typeof schema.roleGrants.$inferSelect)['role'];
export type RoleChangeRow = typeof schema.roleChanges.$inferSelect;

export function createRolesStorage(db: IdentityDb) {
  return {
    /** Grants and records the change in one transaction; false when the user already had the role. */
    async grant(
      userId: string,
      role: GrantableRole,
      actorId: string | null,
      reason: string | null,
    ): Promise<boolean> {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .insert(schema.roleGrants)
          .values({ userId, role, grantedBy: actorId })
          .onConflictDoNothing()
          .returning();
        if (!row) return false;
        await tx.insert(schema.roleChanges).values({ userId, role, action: 'GRANT', actorId, reason });
        return true;
      });
    },
    /** Revokes and records the change in one transaction; false when the user did not have the role. */
    async revoke(
      userId: string,
      role: GrantableRole,
      actorId: string,
      reason: string | null,
    ): Promise<boolean> {
      return db.transaction(async (tx) => {
        const removed = await tx
          .delete(schema.roleGrants)
          .where(and(eq(schema.roleGrants.userId, userId), eq(schema.roleGrants.role, role)))
          .returning();
        if (removed.length === 0) return false;
        await tx.insert(schema.roleChanges).values({ userId, role, action: 'REVOKE', actorId, reason });
        return true;
      });
    },
    async rolesOf(userIds: readonly string[]): Promise<Array<{ userId: string; role: GrantableRole }>> {
      if (userIds.length === 0) return [];
      return db
        .select({ userId: schema.roleGrants.userId, role: schema.roleGrants.role })
        .from(schema.roleGrants)
        .where(inArray(schema.roleGrants.userId, [...userIds]));
    },
    async changesOf(userId: string, limit: number): Promise<RoleChangeRow[]> {
      return db
        .select()
        .from(schema.roleChanges)
        .where(eq(schema.roleChanges.userId, userId))
        .orderBy(desc(schema.roleChanges.at))
        .limit(limit);
    },
  };
}

export type RolesStorage = ReturnType<typeof createRolesStorage>;

export function createRoleLoaders(storage: RolesStorage) {
  return {
    rolesByUser: new DataLoader<string, GrantableRole[]>(async (userIds) => {
      const rows = await storage.rolesOf(userIds);
      return userIds.map((id) => rows.filter((row) => row.userId === id).map((row) => row.role));
    }),
  };
}
