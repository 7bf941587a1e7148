import { sql } from 'drizzle-orm';
import { bigint, index, integer, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
// eslint-disable-next-line no-restricted-imports -- a module's own tables extend the payments schema (see drizzle.config.ts)
import { orders, payments, PROVIDERS } from '../../db/schema.js';

// The card module's own tables (in the payments schema; drizzle.config.ts picks up modules' *-schema.ts), and
// the webhook events table the PayPal module shares. Read and written only by stripe-storage.ts and
// webhook-events-storage.ts.

const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
/** Money: integer minor units of an ISO 4217 currency, read as bigint. Never floats. */
const money = (name: string) => bigint(name, { mode: 'bigint' });

/**
 * Checkout Sessions created for an order, one per attempt: a new one only once the previous one expired, so the
 * idempotency key (order id + attempt) gives concurrent callers the same session. Written only by stripe-storage.
 */
export const stripeCheckoutSessions = payments.table(
  'stripe_checkout_sessions',
  {
    sessionId: text('session_id').primaryKey(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    attempt: integer('attempt').notNull(),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (table) => [uniqueIndex('stripe_checkout_sessions_attempt').on(table.orderId, table.attempt)],
);

/**
 * Provider webhook events by id: each is handled once however often it is delivered (processedAt set when its
 * handling finished; a delivery that died half-way is handled again, every step being idempotent). objectId and
 * eventCreatedAt let an older event about an object arriving after a newer one be recognised as stale. Written
 * only by webhook-events-storage (modules/stripe, used by modules/paypal too).
 */
export const providerWebhookEvents = payments.table(
  'provider_webhook_events',
  {
    provider: text('provider', { enum: PROVIDERS }).notNull(),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    objectId: text('object_id'),
    eventCreatedAt: at('event_created_at').notNull(),
    receivedAt: at('received_at').notNull().defaultNow(),
    deliveries: integer('deliveries').notNull().default(1),
    processedAt: at('processed_at'),
    // SETTLED, DUPLICATE, REFUNDED, NOT_PAID, STALE, IGNORED, UNKNOWN_ORDER, FLAGGED (needs an administrator).
    outcome: text('outcome'),
    detail: text('detail'),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.eventId] }),
    index('provider_webhook_events_object_idx').on(table.provider, table.objectId, table.eventCreatedAt),
    index('provider_webhook_events_flagged_idx')
      .on(table.receivedAt)
      .where(sql`${table.outcome} = 'FLAGGED'`),
  ],
);
