import { consumeEvents, type EventTransport, type Subscription } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { PaymentsDb } from '../orders/orders-storage.js';
import type { CryptoManager } from './crypto-manager.js';

/** What the chain subgraph's indexer publishes (see subgraphs/chain/src/modules/indexer). */
export const ChainEvents = {
  PaymentReceived: 'PaymentReceived',
  ChainReorganized: 'ChainReorganized',
} as const;

/**
 * Stores each PaymentReceived once (processed-events table + unique block hash and log index) and applies
 * ChainReorganized, in the transaction that marks the event processed; deciding and settling run after the
 * commit (`onStored`), so settlement's own transaction never nests in the consumer's.
 */
export function consumeChainPayments(options: {
  db: PaymentsDb;
  transport: EventTransport;
  manager: CryptoManager;
  onStored: () => void;
}): Promise<Subscription> {
  return consumeEvents({
    db: options.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport: options.transport,
    consumer: 'payments.crypto',
    types: [ChainEvents.PaymentReceived, ChainEvents.ChainReorganized],
    handle: async (event, tx) => {
      if (event.type === ChainEvents.PaymentReceived)
        await options.manager.received(tx, event.id, event.payload);
      else await options.manager.reorganized(tx, event.payload);
      // After this transaction commits (the handler returns first).
      setTimeout(options.onStored, 0);
    },
  });
}
