import { DomainError, ErrorCode } from '@symbeon/kernel';
import type { UserRow } from '../users/users-storage.js';
import type { UsersManager } from '../users/users-manager.js';
import type { SiweVerifier } from './siwe-verifier.js';
import type { WalletRow, WalletsStorage } from './wallets-storage.js';

export const WALLET_LINKED_ELSEWHERE = 'WALLET_LINKED_ELSEWHERE';

export interface WalletSignIn {
  user: UserRow;
  wallet: WalletRow;
  /** True when this sign-in created the user. */
  created: boolean;
}

/**
 * Who a verified wallet belongs to. First sign-in creates the user and links the wallet in one transaction;
 * later ones find the user through the wallet.
 */
export function createWalletsManager(verifier: SiweVerifier, wallets: WalletsStorage, users: UsersManager) {
  async function handleFor(address: string): Promise<string> {
    // A readable, unique starting handle: 0x + the first 8 hex digits, with a suffix on the rare collision.
    const base = `0x${address.slice(2, 10).toLowerCase()}`;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const candidate = attempt === 0 ? base : `${base}-${attempt + 1}`;
      if (!(await users.isHandleTaken(candidate))) return candidate;
    }
    return `0x${address.slice(2).toLowerCase()}`;
  }

  return {
    createNonce: () => verifier.createNonce(),

    async signIn(message: string, signature: string): Promise<WalletSignIn> {
      const { address, chainId } = await verifier.verify(message, signature);
      const existing = await wallets.findByAddress(address);
      if (existing) {
        await wallets.touch(address);
        const user = await users.findById(existing.userId);
        if (!user) throw new Error(`Wallet ${address} points at missing user ${existing.userId}`);
        return { user, wallet: existing, created: false };
      }
      let wallet: WalletRow | undefined;
      try {
        const user = await users.createUser(
          { handle: await handleFor(address), displayName: `${address.slice(0, 6)}…${address.slice(-4)}` },
          async (tx, row) => {
            wallet = await wallets.link(tx, row.id, address, chainId);
            // Another sign-in with the same wallet won the race: roll this user back.
            if (wallet.userId !== row.id)
              throw new DomainError(ErrorCode.CONFLICT, 'Signed in concurrently: try again');
          },
        );
        return { user, wallet: wallet!, created: true };
      } catch (error) {
        if (error instanceof DomainError && error.code === ErrorCode.CONFLICT) {
          const raced = await wallets.findByAddress(address);
          const user = raced && (await users.findById(raced.userId));
          if (raced && user) return { user, wallet: raced, created: false };
        }
        throw error;
      }
    },

    /**
     * The user a known address belongs to, created and linked when absent (start-up bootstrap and demo data:
     * no signature, so never reachable from the API).
     */
    async ensureUserFor(address: string, profile: { handle: string; displayName: string; bio?: string }) {
      // Stored lower-case: no checksum needed here (and no ethers to load at start-up).
      const checksummed = address;
      const existing = await wallets.findByAddress(checksummed);
      if (existing) {
        const user = await users.findById(existing.userId);
        if (user) return user;
      }
      const user = await users.ensureUser(profile);
      const wallet = await wallets.link(undefined, user.id, checksummed, 31337);
      if (wallet.userId !== user.id) throw new Error(`${checksummed} is linked to another user`);
      return user;
    },

    /** Links another wallet to a signed-in user; refused when it belongs to someone else. */
    async link(userId: string, message: string, signature: string): Promise<WalletRow> {
      const { address, chainId } = await verifier.verify(message, signature);
      const wallet = await wallets.link(undefined, userId, address, chainId);
      if (wallet.userId !== userId) {
        throw new DomainError(WALLET_LINKED_ELSEWHERE, 'This wallet is linked to another account', 'message');
      }
      return wallet;
    },
  };
}

export type WalletsManager = ReturnType<typeof createWalletsManager>;
