import { desc, eq } from 'drizzle-orm';
import type { PaymentsDb } from '../orders/orders-storage.js';
import * as schema from './stripe-schema.js';

export type CheckoutSessionRow = typeof schema.stripeCheckoutSessions.$inferSelect;
export type NewCheckoutSession = typeof schema.stripeCheckoutSessions.$inferInsert;

export function createStripeStorage(db: PaymentsDb) {
  const table = schema.stripeCheckoutSessions;
  return {
    /** The order's sessions, the latest attempt first. */
    async sessionsOf(orderId: string): Promise<CheckoutSessionRow[]> {
      return db.select().from(table).where(eq(table.orderId, orderId)).orderBy(desc(table.attempt));
    },

    /** Idempotent: a concurrent caller that got the same session from Stripe (same key) inserts nothing. */
    async addSession(session: NewCheckoutSession): Promise<void> {
      await db.insert(table).values(session).onConflictDoNothing();
    },
  };
}

export type StripeStorage = ReturnType<typeof createStripeStorage>;
