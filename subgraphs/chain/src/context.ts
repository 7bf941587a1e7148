import DataLoader from 'dataloader';
import type { Logger, Principal } from '@symbeon/kernel';
import type { CertificatesManager } from './modules/certificates/certificates-manager.js';
import type { CertificateRow, IndexerStorage } from './modules/indexer/indexer-storage.js';
import type { TransactionsManager } from './modules/transactions/transactions-manager.js';
import {
  createTransactionLoaders,
  type TransactionsStorage,
} from './modules/transactions/transactions-storage.js';

export interface ChainModules {
  logger: Logger;
  chainId: number;
  storage: { transactions: TransactionsStorage; indexer: IndexerStorage };
  transactions: TransactionsManager;
  certificates: CertificatesManager;
}

function createLoaders(modules: ChainModules) {
  const { storage, chainId } = modules;
  return {
    ...createTransactionLoaders(storage.transactions),
    certificateByTokenId: new DataLoader<string, CertificateRow | null>(async (tokenIds) => {
      const rows = new Map(
        (await storage.indexer.certificatesByTokenIds(chainId, tokenIds)).map((row) => [row.tokenId, row]),
      );
      return tokenIds.map((tokenId) => rows.get(tokenId) ?? null);
    }),
  };
}

/** What every resolver of one request (or one subscription) sees. */
export interface ChainContext extends Omit<ChainModules, 'storage'> {
  requestId: string;
  /** The caller, as the gateway vouched for it (internal token). */
  principal: Principal;
  loaders: ReturnType<typeof createLoaders>;
}

export function createContext(modules: ChainModules, requestId: string, principal: Principal): ChainContext {
  const { storage: _storage, ...rest } = modules;
  return {
    ...rest,
    logger: modules.logger.child({ requestId }),
    requestId,
    principal,
    loaders: createLoaders(modules),
  };
}
