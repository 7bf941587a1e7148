import DataLoader from 'dataloader';
import { eq, inArray } from 'drizzle-orm';
import { recordEvent } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { IdentityDb } from '../users/users-storage.js';

export type WalletRow = typeof schema.wallets.$inferSelect;

/** Addresses are stored lower-case so one account is one row whatever its spelling. */
const key = (address: string) => address.toLowerCase();

/** Announced with each new link (certification learns its certificates' holders from it). */
export const WalletLinked = 'identity.WalletLinked';
export interface WalletLinkedPayload {
  userId: string;
  /** Lower-case, as stored. */
  address: string;
  chainId: number;
  linkedAt: string;
}

const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };

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
      const run = async (executor: IdentityDb) => {
        const [inserted] = await executor
          .insert(schema.wallets)
          .values({ address: key(address), userId, chainId, lastSignInAt: new Date() })
          .onConflictDoNothing()
          .returning();
        if (inserted) {
          await recordEvent<WalletLinkedPayload>(executor, tables, WalletLinked, {
            userId,
            address: inserted.address,
            chainId: inserted.chainId,
            linkedAt: inserted.linkedAt.toISOString(),
          });
          return inserted;
        }
        const [existing] = await executor
          .select()
          .from(schema.wallets)
          .where(eq(schema.wallets.address, key(address)));
        return existing!;
      };
      // The link and its announcement commit together.
      return within ? run(within) : db.transaction(run);
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
