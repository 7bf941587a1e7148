import { consumeEvents, type EventTransport, type Subscription } from '@symbeon/kernel';
import { z } from 'zod';
import * as schema from '../../db/schema.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';
import type { BatchesManager } from './batches-manager.js';

/** The chain indexer's batch events (a contract between the two subgraphs, not an import). */
export const BatchEvents = {
  BatchAnchored: 'BatchAnchored',
  BatchLeafRevoked: 'BatchLeafRevoked',
} as const;

const uint256 = z.string().regex(/^\d{1,78}$/);
const batchAnchored = z.object({
  chainId: z.number().int(),
  batchId: uint256,
  size: z.number().int(),
  contentCid: z.string().nullable(),
  issuer: z.string().nullish(),
  txHash: z.string(),
  blockNumber: z.number().int(),
});
const batchLeafRevoked = z.object({
  batchId: uint256,
  leaf: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  reason: z.string().nullish(),
  txHash: z.string(),
});

/** BatchAnchored and BatchLeafRevoked, each in the transaction that marks the event processed. */
export function consumeBatchEvents(
  db: CertificationDb,
  transport: EventTransport,
  batches: Pick<BatchesManager, 'anchored' | 'leafRevoked'>,
): Promise<Subscription> {
  return consumeEvents({
    db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport,
    consumer: 'certification.batch-events',
    types: [BatchEvents.BatchAnchored, BatchEvents.BatchLeafRevoked],
    handle: async (event, tx) => {
      if (event.type === BatchEvents.BatchAnchored) {
        const parsed = batchAnchored.safeParse(event.payload);
        if (!parsed.success) throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
        await batches.anchored(tx, { ...parsed.data, issuer: parsed.data.issuer ?? null });
      } else {
        const parsed = batchLeafRevoked.safeParse(event.payload);
        if (!parsed.success) throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
        await batches.leafRevoked(tx, { ...parsed.data, reason: parsed.data.reason ?? '' });
      }
    },
  });
}
