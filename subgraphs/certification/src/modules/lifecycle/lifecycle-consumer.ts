import { consumeEvents, startPeriodic, type EventTransport, type Subscription } from '@symbeon/kernel';
import { z } from 'zod';
import * as schema from '../../db/schema.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';
import { RenewalAuditPassed } from '../audit/audit-storage.js';
import type { LifecycleManager } from './lifecycle-manager.js';

/** The chain indexer's event for a renewal (a contract between the two subgraphs, not an import). */
export const CertificateRenewed = 'CertificateRenewed';

const certificateRenewed = z.object({
  tokenId: z.string().regex(/^\d+$/),
  contentCid: z.string().nullable(),
  expiresAt: z.string().nullable(),
  txHash: z.string(),
});

const renewalAuditPassed = z.object({ certificateId: z.uuid(), termExpiresAt: z.iso.datetime() });

/**
 * CertificateRenewed from the chain, and RenewalAuditPassed (a re-audited renewal goes to the chain), each in
 * the transaction that marks the event processed.
 */
export function consumeLifecycleEvents(
  db: CertificationDb,
  transport: EventTransport,
  lifecycle: Pick<LifecycleManager, 'renewed' | 'renewAfterAudit'>,
): Promise<Subscription> {
  return consumeEvents({
    db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport,
    consumer: 'certification.lifecycle',
    types: [CertificateRenewed, RenewalAuditPassed],
    handle: async (event, tx) => {
      if (event.type === RenewalAuditPassed) {
        const passed = renewalAuditPassed.safeParse(event.payload);
        if (!passed.success) throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
        await lifecycle.renewAfterAudit(tx, passed.data.certificateId, new Date(passed.data.termExpiresAt));
        return;
      }
      const parsed = certificateRenewed.safeParse(event.payload);
      if (!parsed.success) throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
      await lifecycle.renewed(tx, parsed.data);
    },
  });
}

/** The expiry sweep every `seconds` (each run takes a database lock, so one replica sweeps at a time). */
export function startExpirySweep(
  lifecycle: Pick<LifecycleManager, 'sweep'>,
  seconds: number,
  onError: (error: unknown) => void,
): { close(): Promise<void> } {
  return startPeriodic(() => lifecycle.sweep(), seconds, onError, { immediately: true });
}
