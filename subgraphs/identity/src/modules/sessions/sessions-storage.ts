import DataLoader from 'dataloader';
import { and, desc, eq, gt, inArray, isNull } from 'drizzle-orm';
import type { Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

type IdentityDb = Db<typeof schema>;
type Tx = Parameters<Parameters<IdentityDb['transaction']>[0]>[0];

export type SessionRow = typeof schema.sessions.$inferSelect;
export type RefreshTokenRow = typeof schema.refreshTokens.$inferSelect;
export type NewSession = Pick<
  typeof schema.sessions.$inferInsert,
  'userId' | 'method' | 'userAgent' | 'createdAt' | 'lastUsedAt' | 'expiresAt'
>;

// A user's session list is for managing devices, not an audit log: the most recent ones are enough.
const SESSIONS_PER_USER = 100;

/** The statements of one session transaction. Everything in it runs on the transaction's connection. */
function sessionTransaction(tx: Tx) {
  return {
    async findUser(id: string) {
      const [row] = await tx.select().from(schema.users).where(eq(schema.users.id, id));
      return row;
    },

    /** Roles granted beyond MEMBER (the RBAC module writes role_grants). */
    async findRoleGrants(userId: string): Promise<string[]> {
      const rows = await tx
        .select({ role: schema.roleGrants.role })
        .from(schema.roleGrants)
        .where(eq(schema.roleGrants.userId, userId));
      return rows.map((row) => row.role);
    },

    async insertSession(session: NewSession): Promise<SessionRow> {
      const [row] = await tx.insert(schema.sessions).values(session).returning();
      if (!row) throw new Error('insert into sessions returned no row');
      return row;
    },

    async insertRefreshToken(token: typeof schema.refreshTokens.$inferInsert): Promise<void> {
      await tx.insert(schema.refreshTokens).values(token);
    },

    /** The token row, locked until the transaction ends: concurrent uses of one token take turns. */
    async lockRefreshToken(tokenHash: string): Promise<RefreshTokenRow | undefined> {
      const [row] = await tx
        .select()
        .from(schema.refreshTokens)
        .where(eq(schema.refreshTokens.tokenHash, tokenHash))
        .for('update');
      return row;
    },

    /** The session row, locked: a refresh and a revocation of one session take turns. */
    async lockSession(id: string): Promise<SessionRow | undefined> {
      const [row] = await tx.select().from(schema.sessions).where(eq(schema.sessions.id, id)).for('update');
      return row;
    },

    async markRefreshTokenUsed(tokenHash: string, at: Date): Promise<void> {
      await tx
        .update(schema.refreshTokens)
        .set({ usedAt: at })
        .where(eq(schema.refreshTokens.tokenHash, tokenHash));
    },

    async touchSession(id: string, at: Date): Promise<SessionRow> {
      const [row] = await tx
        .update(schema.sessions)
        .set({ lastUsedAt: at })
        .where(eq(schema.sessions.id, id))
        .returning();
      if (!row) throw new Error(`session ${id} vanished inside its transaction`);
      return row;
    },

    /** Revokes a session that is not revoked yet; undefined when it already was (the first reason stays). */
    async revokeSession(id: string, at: Date, reason: string): Promise<SessionRow | undefined> {
      const [row] = await tx
        .update(schema.sessions)
        .set({ revokedAt: at, revokedReason: reason })
        .where(and(eq(schema.sessions.id, id), isNull(schema.sessions.revokedAt)))
        .returning();
      return row;
    },
  };
}

export type SessionTransaction = ReturnType<typeof sessionTransaction>;

export function createSessionsStorage(db: IdentityDb) {
  return {
    /** Runs `body` in one transaction; a throw rolls everything back. */
    transaction<T>(body: (tx: SessionTransaction) => Promise<T>): Promise<T> {
      return db.transaction((tx) => body(sessionTransaction(tx)));
    },

    /** Sessions of these users that have not reached their absolute end, most recently used first. */
    async findLiveByUsers(userIds: readonly string[], now: Date): Promise<SessionRow[]> {
      if (userIds.length === 0) return [];
      return db
        .select()
        .from(schema.sessions)
        .where(and(inArray(schema.sessions.userId, [...userIds]), gt(schema.sessions.expiresAt, now)))
        .orderBy(desc(schema.sessions.lastUsedAt), desc(schema.sessions.id))
        .limit(SESSIONS_PER_USER * userIds.length);
    },
  };
}

export type SessionsStorage = ReturnType<typeof createSessionsStorage>;

/** Per-request loaders: a user's sessions in one statement, however many fields ask. */
export function createSessionLoaders(storage: SessionsStorage, now: () => Date) {
  return {
    liveSessionsByUser: new DataLoader<string, SessionRow[]>(async (userIds) => {
      const rows = await storage.findLiveByUsers(userIds, now());
      return userIds.map((id) => rows.filter((row) => row.userId === id).slice(0, SESSIONS_PER_USER));
    }),
  };
}

export type SessionLoaders = ReturnType<typeof createSessionLoaders>;
