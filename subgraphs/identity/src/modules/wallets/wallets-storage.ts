import DataLoader from 'dataloader';
import { eq, inArray } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { IdentityDb } from '../users/users-storage.js';

export type WalletRow = typeof schema.wallets.$inferSelect;

/** Addresses are stored lower-case so one account is one row whatever its spelling. */
const key = (address: string) => address.toLowerCase();

export function createWalletsStorage(db: IdentityDb) {
  return {
    async findByAddress(address: string): Promise<WalletRow | undefined> {
      const [row] = await db
        .select()
        .from(schema.wallets)
        .where(eq(schema.wallets.address, key(address)));
      return row;
    },
    /**
     * Links the wallet unless it exists; returns the row as stored (possibly another user's). Pass the
     * transaction when the link belongs to a larger change.
     */
    async link(
      within: IdentityDb | undefined,
      userId: string,
      address: string,
      chainId: number,
    ): Promise<WalletRow> {
      const executor = within ?? db;
      const [inserted] = await executor
        .insert(schema.wallets)
        .values({ address: key(address), userId, chainId, lastSignInAt: new Date() })
        .onConflictDoNothing()
        .returning();
      if (inserted) return inserted;
      const [existing] = await executor
        .select()
        .from(schema.wallets)
        .where(eq(schema.wallets.address, key(address)));
      return existing!;
    },
    async touch(address: string): Promise<void> {
      await db
        .update(schema.wallets)
        .set({ lastSignInAt: new Date() })
        .where(eq(schema.wallets.address, key(address)));
    },
    async findByAddresses(addresses: readonly string[]): Promise<WalletRow[]> {
      if (addresses.length === 0) return [];
      return db
        .select()
        .from(schema.wallets)
        .where(inArray(schema.wallets.address, addresses.map(key)));
    },
    async findByUsers(userIds: readonly string[]): Promise<WalletRow[]> {
      if (userIds.length === 0) return [];
      return db
        .select()
        .from(schema.wallets)
        .where(inArray(schema.wallets.userId, [...userIds]))
        .orderBy(schema.wallets.linkedAt);
    },
  };
}

export type WalletsStorage = ReturnType<typeof createWalletsStorage>;

export function createWalletLoaders(storage: WalletsStorage) {
  return {
    walletByAddress: new DataLoader<string, WalletRow | null>(async (addresses) => {
      const rows = new Map((await storage.findByAddresses(addresses)).map((row) => [row.address, row]));
      return addresses.map((address) => rows.get(key(address)) ?? null);
    }),
    walletsByUser: new DataLoader<string, WalletRow[]>(async (userIds) => {
      const rows = await storage.findByUsers(userIds);
      return userIds.map((id) => rows.filter((row) => row.userId === id));
    }),
  };
}
