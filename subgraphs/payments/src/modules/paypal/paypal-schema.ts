import { bigint, integer, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
// eslint-disable-next-line no-restricted-imports -- a module's own tables extend the payments schema (see drizzle.config.ts)
import { orders, payments } from '../../db/schema.js';

// The PayPal module's own table (in the payments schema; drizzle.config.ts picks up modules' *-schema.ts). Read
// and written only by paypal-storage.ts.

const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
/** Money: integer minor units of an ISO 4217 currency, read as bigint. Never floats. */
const money = (name: string) => bigint(name, { mode: 'bigint' });

/**
 * PayPal Orders v2 orders created for an order, one per attempt, with their capture once made. Written only by
 * paypal-storage.
 */
export const paypalOrders = payments.table(
  'paypal_orders',
  {
    paypalOrderId: text('paypal_order_id').primaryKey(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    attempt: integer('attempt').notNull(),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    approveUrl: text('approve_url'),
    captureId: text('capture_id'),
    // PayPal's capture status: COMPLETED, PENDING, DECLINED, REFUNDED, PARTIALLY_REFUNDED, FAILED.
    captureStatus: text('capture_status'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('paypal_orders_attempt').on(table.orderId, table.attempt),
    uniqueIndex('paypal_orders_capture').on(table.captureId),
  ],
);
