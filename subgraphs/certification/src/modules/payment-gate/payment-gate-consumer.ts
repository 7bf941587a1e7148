import { consumeEvents, type EventTransport, type Logger, type Subscription } from '@symbeon/kernel';
import { z } from 'zod';
import * as schema from '../../db/schema.js';
import { createProgrammesStorage, type CertificationDb } from '../programmes/programmes-storage.js';
import { createRequestsManager, systemActor } from '../requests/requests-manager.js';
import { RequestEvents } from '../requests/request-states.js';
import { createRequestsStorage } from '../requests/requests-storage.js';
import { createPaymentGateStorage } from './payment-gate-storage.js';

/** payments' event, as it publishes it (a contract between the two subgraphs, not an import). */
export const PaymentSettled = 'payments.PaymentSettled';

const paymentSettled = z.object({
  orderId: z.uuid(),
  buyerId: z.uuid(),
  item: z.object({ type: z.string(), id: z.string() }),
  amountMinor: z.string().regex(/^\d+$/),
  currency: z.string(),
  provider: z.string(),
  settledAt: z.string(),
});
const transitioned = z.object({
  requestId: z.uuid(),
  programmeId: z.uuid(),
  requesterId: z.uuid(),
  to: z.string(),
});

const ACTOR = systemActor('payment-gate');

/**
 * The payment gate's second half (the first, in issuance, sends approved requests of priced programmes to
 * AWAITING_PAYMENT): a payment payments settled for a programme lets the buyer's request waiting there go on
 * to ISSUING, recorded in the request's trail with the order as evidence. The payment may come first (paid
 * while the review was still running): it is kept unclaimed, and the request goes on the moment it reaches
 * the gate. Each payment pays for one request; idempotent by event and by order.
 */
export function consumePaymentEvents(
  db: CertificationDb,
  transport: EventTransport,
  logger: Logger,
): Promise<Subscription> {
  async function release(tx: CertificationDb, userId: string, programmeId: string) {
    const gate = createPaymentGateStorage(tx);
    await gate.lock(userId, programmeId);
    const requestId = await gate.waitingRequest(userId, programmeId);
    if (!requestId) return;
    const payment = await gate.firstUnclaimed(userId, programmeId);
    if (!payment || !(await gate.claim(payment.orderId, requestId))) return;
    const programmes = createProgrammesStorage(tx);
    const requests = createRequestsManager(createRequestsStorage(tx), programmes);
    await requests.transition(requestId, 'ISSUING', {
      actor: ACTOR,
      reason: 'payment settled',
      evidence: {
        orderId: payment.orderId,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        provider: payment.provider,
        settledAt: payment.settledAt.toISOString(),
      },
    });
    logger.info({ requestId, orderId: payment.orderId }, 'payment settled: issuance starts');
  }

  return consumeEvents({
    db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport,
    consumer: 'certification.payments',
    types: [PaymentSettled, RequestEvents.Transitioned],
    handle: async (event, tx) => {
      if (event.type === PaymentSettled) {
        const parsed = paymentSettled.safeParse(event.payload);
        if (!parsed.success) throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
        const settled = parsed.data;
        // Courses and events are paid the same way; only programmes open this gate.
        if (settled.item.type !== 'programme') return;
        const programmeId = z.uuid().safeParse(settled.item.id);
        if (!programmeId.success) throw new Error(`PaymentSettled ${event.id}: bad programme id`);
        const gate = createPaymentGateStorage(tx);
        await gate.lock(settled.buyerId, programmeId.data);
        const fresh = await gate.remember({
          orderId: settled.orderId,
          userId: settled.buyerId,
          programmeId: programmeId.data,
          amountMinor: settled.amountMinor,
          currency: settled.currency,
          provider: settled.provider,
          settledAt: new Date(settled.settledAt),
        });
        if (fresh) await release(tx, settled.buyerId, programmeId.data);
        return;
      }
      const parsed = transitioned.safeParse(event.payload);
      if (!parsed.success || parsed.data.to !== 'AWAITING_PAYMENT') return;
      await release(tx, parsed.data.requesterId, parsed.data.programmeId);
    },
  });
}
