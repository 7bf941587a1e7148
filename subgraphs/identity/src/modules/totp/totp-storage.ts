import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { IdentityDb } from '../users/users-storage.js';

export type TotpFactorRow = typeof schema.totpFactors.$inferSelect;

const factors = schema.totpFactors;
const codes = schema.recoveryCodes;

export function createTotpStorage(db: IdentityDb) {
  return {
    async findFactor(userId: string): Promise<TotpFactorRow | undefined> {
      const [row] = await db.select().from(factors).where(eq(factors.userId, userId));
      return row;
    },

    /**
     * Stores a pending (not yet enabled) secret, replacing an earlier pending one; undefined when the user's
     * factor is already enabled. The failure counter and lock are kept, so re-enrolling never lifts a lock.
     */
    async savePending(
      userId: string,
      secretEncrypted: string,
      now: Date,
    ): Promise<TotpFactorRow | undefined> {
      const [row] = await db
        .insert(factors)
        .values({ userId, secretEncrypted, createdAt: now })
        .onConflictDoUpdate({
          target: factors.userId,
          set: { secretEncrypted, createdAt: now, lastUsedStep: null },
          setWhere: isNull(factors.enabledAt),
        })
        .returning();
      return row;
    },

    /**
     * Enables a pending factor (its confirming step is already recorded by acceptStep) and replaces the
     * recovery codes, in one transaction; false when it was not pending (enabled concurrently, or removed).
     */
    async enable(userId: string, codeHashes: string[], now: Date): Promise<boolean> {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .update(factors)
          .set({ enabledAt: now, failedAttempts: 0, lockedUntil: null })
          .where(and(eq(factors.userId, userId), isNull(factors.enabledAt)))
          .returning({ userId: factors.userId });
        if (!row) return false;
        await tx.delete(codes).where(eq(codes.userId, userId));
        await tx.insert(codes).values(codeHashes.map((codeHash) => ({ userId, codeHash })));
        return true;
      });
    },

    /**
     * Records a time step as used and clears the failures; false when this step (or a later one) was already
     * used. The condition is in the UPDATE so two concurrent uses of one code cannot both succeed.
     */
    async acceptStep(userId: string, step: number): Promise<boolean> {
      const [row] = await db
        .update(factors)
        .set({ lastUsedStep: step, failedAttempts: 0, lockedUntil: null })
        .where(
          and(eq(factors.userId, userId), or(isNull(factors.lastUsedStep), lt(factors.lastUsedStep, step))),
        )
        .returning({ userId: factors.userId });
      return row !== undefined;
    },

    /** Marks an unused recovery code used and clears the failures; false when there is no such unused code. */
    async useRecoveryCode(userId: string, codeHash: string, now: Date): Promise<boolean> {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .update(codes)
          .set({ usedAt: now })
          .where(and(eq(codes.userId, userId), eq(codes.codeHash, codeHash), isNull(codes.usedAt)))
          .returning({ id: codes.id });
        if (!row) return false;
        await tx
          .update(factors)
          .set({ failedAttempts: 0, lockedUntil: null })
          .where(eq(factors.userId, userId));
        return true;
      });
    },

    /**
     * Counts a wrong code in one statement (concurrent failures all count); the `maxAttempts`-th locks the
     * factor until `lockUntil` and restarts the count.
     */
    async recordFailure(
      userId: string,
      maxAttempts: number,
      lockUntil: Date,
    ): Promise<TotpFactorRow | undefined> {
      const reached = sql`${factors.failedAttempts} + 1 >= ${maxAttempts}`;
      const [row] = await db
        .update(factors)
        .set({
          failedAttempts: sql`case when ${reached} then 0 else ${factors.failedAttempts} + 1 end`,
          lockedUntil: sql`case when ${reached} then ${lockUntil.toISOString()}::timestamptz else ${factors.lockedUntil} end`,
        })
        .where(eq(factors.userId, userId))
        .returning();
      return row;
    },

    /** Removes the factor and its recovery codes. */
    async deleteFactor(userId: string): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.delete(codes).where(eq(codes.userId, userId));
        await tx.delete(factors).where(eq(factors.userId, userId));
      });
    },
  };
}

export type TotpStorage = ReturnType<typeof createTotpStorage>;
