import type { IndexerStorage } from '../indexer/indexer-storage.js';
import type { ChainRegistry, PaymentToken } from './chain-registry.js';

/** ChainStatus' payment fields: the receiver from the deployment record, the tokens from the index. */
export function createRegistryResolvers(registry: ChainRegistry, storage: IndexerStorage) {
  return {
    ChainStatus: {
      paymentReceiver: () => registry.payments?.address ?? null,
      paymentTokens: async (): Promise<PaymentToken[]> => {
        if (!registry.payments) return [];
        const tokens = await storage.allowedPaymentTokens(registry.chainId, registry.payments.address);
        return Promise.all(tokens.map((token) => registry.tokenMetadata(token)));
      },
    },
  };
}
