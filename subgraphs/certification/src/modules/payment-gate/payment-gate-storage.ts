import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { CertificationDb } from '../programmes/programmes-storage.js';

export type SettledPaymentRow = typeof schema.settledPayments.$inferSelect;
export type NewSettledPayment = Omit<typeof schema.settledPayments.$inferInsert, 'requestId' | 'claimedAt'>;

/** The payment gate's SQL: payments settled for programmes, and which request each one paid for. */
export function createPaymentGateStorage(db: CertificationDb) {
  return {
    /**
     * Serialises the gate for one buyer and programme until the transaction ends: a payment settling while
     * the request reaches AWAITING_PAYMENT must not be missed by both sides (each would otherwise look for
     * the other before it committed).
     */
    async lock(userId: string, programmeId: string): Promise<void> {
      await db.execute(
        sql`select pg_advisory_xact_lock(hashtext(${`payment-gate:${userId}:${programmeId}`}))`,
      );
    },

    /** false when payments already told us of this order (a redelivered or replayed event). */
    async remember(payment: NewSettledPayment): Promise<boolean> {
      const rows = await db.insert(schema.settledPayments).values(payment).onConflictDoNothing().returning();
      return rows.length > 0;
    },

    /** The oldest payment of this buyer for this programme that has not paid for a request yet. */
    async firstUnclaimed(userId: string, programmeId: string): Promise<SettledPaymentRow | undefined> {
      const [row] = await db
        .select()
        .from(schema.settledPayments)
        .where(
          and(
            eq(schema.settledPayments.userId, userId),
            eq(schema.settledPayments.programmeId, programmeId),
            isNull(schema.settledPayments.requestId),
          ),
        )
        .orderBy(asc(schema.settledPayments.settledAt))
        .limit(1);
      return row;
    },

    /** The buyer's request waiting at the gate for this programme (at most one request is open per programme). */
    async waitingRequest(userId: string, programmeId: string): Promise<string | undefined> {
      const [row] = await db
        .select({ id: schema.certificationRequests.id })
        .from(schema.certificationRequests)
        .where(
          and(
            eq(schema.certificationRequests.requesterId, userId),
            eq(schema.certificationRequests.programmeId, programmeId),
            eq(schema.certificationRequests.status, 'AWAITING_PAYMENT'),
          ),
        );
      return row?.id;
    },

    /** Marks the payment as the one that paid for the request; false when it was claimed meanwhile. */
    async claim(orderId: string, requestId: string): Promise<boolean> {
      const rows = await db
        .update(schema.settledPayments)
        .set({ requestId, claimedAt: new Date() })
        .where(and(eq(schema.settledPayments.orderId, orderId), isNull(schema.settledPayments.requestId)))
        .returning({ orderId: schema.settledPayments.orderId });
      return rows.length > 0;
    },

    async findByRequest(requestId: string): Promise<SettledPaymentRow | undefined> {
      const [row] = await db
        .select()
        .from(schema.settledPayments)
        .where(eq(schema.settledPayments.requestId, requestId));
      return row;
    },
  };
}
