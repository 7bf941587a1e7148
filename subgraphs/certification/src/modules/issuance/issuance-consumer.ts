import { consumeEvents, type EventTransport, type Subscription } from '@symbeon/kernel';
import { z } from 'zod';
import * as schema from '../../db/schema.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';
import { RequestEvents } from '../requests/request-states.js';
import type { IssuanceManager } from './issuance-manager.js';

/** Other subgraphs' events, as they publish them (contracts, not imports). */
export const ForeignEvents = {
  WalletLinked: 'identity.WalletLinked',
  CertificateIssued: 'CertificateIssued',
  CertificateRevoked: 'CertificateRevoked',
  ChainCommandFailed: 'ChainCommandFailed',
  ChainReorganized: 'ChainReorganized',
} as const;

const requestEvent = z.object({ requestId: z.uuid() });
const walletLinked = z.object({
  userId: z.uuid(),
  address: z.string(),
  chainId: z.number().int(),
  linkedAt: z.string(),
});
const certificateIssued = z.object({
  chainId: z.number().int(),
  tokenId: z.string().regex(/^\d+$/),
  holder: z.string(),
  contentCid: z.string().nullable(),
  txHash: z.string(),
  blockNumber: z.number().int(),
});
const chainReorganized = z.object({
  chainId: z.number().int(),
  removedLogs: z.array(
    z.object({
      txHash: z.string(),
      blockNumber: z.number().int(),
      eventName: z.string(),
      address: z.string(),
    }),
  ),
});
const chainCommandFailed = z.object({
  commandId: z.string().min(1),
  kind: z.string(),
  outcome: z.enum(['REFUSED', 'REVERTED', 'REPLACED']),
  error: z.string().nullable(),
  retryable: z.boolean(),
});
const certificateRevoked = z.object({
  tokenId: z.string().regex(/^\d+$/),
  reason: z.string().nullish(),
  txHash: z.string(),
});

function parse<T>(schemaOf: z.ZodType<T>, event: { id: string; type: string; payload: unknown }): T {
  const parsed = schemaOf.safeParse(event.payload);
  if (!parsed.success) throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
  return parsed.data;
}

/**
 * The issuance's consumers, one group per concern so one failing never holds the others up. Each handler
 * runs in the transaction that marks the event processed (idempotent by event id).
 */
export async function consumeIssuanceEvents(
  db: CertificationDb,
  transport: EventTransport,
  issuance: IssuanceManager,
): Promise<Subscription> {
  const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };
  const subscriptions = await Promise.all([
    consumeEvents({
      db,
      tables,
      transport,
      consumer: 'certification.payment-gate',
      types: [RequestEvents.Approved],
      handle: async (event, tx) => {
        await issuance.gate(tx, parse(requestEvent, event).requestId);
      },
    }),
    consumeEvents({
      db,
      tables,
      transport,
      consumer: 'certification.issuance',
      types: [RequestEvents.IssuanceRequested, ForeignEvents.WalletLinked],
      handle: async (event, tx) => {
        if (event.type === ForeignEvents.WalletLinked)
          await issuance.walletLinked(tx, parse(walletLinked, event));
        else await issuance.prepare(tx, parse(requestEvent, event).requestId);
      },
    }),
    consumeEvents({
      db,
      tables,
      transport,
      consumer: 'certification.chain-events',
      types: [
        ForeignEvents.CertificateIssued,
        ForeignEvents.CertificateRevoked,
        ForeignEvents.ChainCommandFailed,
        ForeignEvents.ChainReorganized,
      ],
      handle: async (event, tx) => {
        if (event.type === ForeignEvents.ChainReorganized)
          await issuance.reorganised(tx, parse(chainReorganized, event));
        else if (event.type === ForeignEvents.ChainCommandFailed)
          await issuance.chainCommandFailed(tx, parse(chainCommandFailed, event));
        else if (event.type === ForeignEvents.CertificateIssued)
          await issuance.issued(tx, parse(certificateIssued, event));
        else {
          const revoked = parse(certificateRevoked, event);
          await issuance.revoked(tx, { ...revoked, reason: revoked.reason ?? '' });
        }
      },
    }),
  ]);
  return {
    close: async () => {
      await Promise.all(subscriptions.map((subscription) => subscription.close()));
    },
  };
}
