import { desc, eq } from 'drizzle-orm';
import type { PaymentsDb } from '../orders/orders-storage.js';
import * as schema from './paypal-schema.js';

export type PayPalOrderRow = typeof schema.paypalOrders.$inferSelect;
export type NewPayPalOrder = typeof schema.paypalOrders.$inferInsert;

export function createPayPalStorage(db: PaymentsDb) {
  const table = schema.paypalOrders;
  return {
    /** The order's PayPal orders, the latest attempt first. */
    async ordersOf(orderId: string): Promise<PayPalOrderRow[]> {
      return db.select().from(table).where(eq(table.orderId, orderId)).orderBy(desc(table.attempt));
    },

    async byPayPalOrder(paypalOrderId: string): Promise<PayPalOrderRow | undefined> {
      const [row] = await db.select().from(table).where(eq(table.paypalOrderId, paypalOrderId));
      return row;
    },

    /** Idempotent: a concurrent caller that got the same PayPal order (same request id) inserts nothing. */
    async add(row: NewPayPalOrder): Promise<void> {
      await db.insert(table).values(row).onConflictDoNothing();
    },

    /** The capture PayPal reported for the order, and its latest known status. */
    async setCapture(paypalOrderId: string, captureId: string, captureStatus: string): Promise<void> {
      await db
        .update(table)
        .set({ captureId, captureStatus, updatedAt: new Date() })
        .where(eq(table.paypalOrderId, paypalOrderId));
    },
  };
}

export type PayPalStorage = ReturnType<typeof createPayPalStorage>;
