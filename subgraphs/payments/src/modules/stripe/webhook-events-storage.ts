import { and, desc, eq, gt, isNotNull, sql } from 'drizzle-orm';
import type { PaymentsDb } from '../orders/orders-storage.js';
import * as schema from './stripe-schema.js';

export type WebhookProvider = 'STRIPE' | 'PAYPAL';
export type WebhookEventRow = typeof schema.providerWebhookEvents.$inferSelect;

/** What happened to an event; FLAGGED ones wait for an administrator. */
export type WebhookOutcome =
  | 'SETTLED'
  | 'DUPLICATE'
  | 'REFUNDED'
  | 'NOT_PAID'
  | 'PENDING'
  | 'STALE'
  | 'IGNORED'
  | 'UNKNOWN_ORDER'
  | 'FLAGGED';

export interface ReceivedEvent {
  provider: WebhookProvider;
  eventId: string;
  type: string;
  objectId: string | null;
  createdAt: Date;
}

/**
 * The processed-webhook-events table shared by the Stripe and PayPal modules: an event id is handled once,
 * however often (and however concurrently) the provider delivers it.
 */
export function createWebhookEventsStorage(db: PaymentsDb) {
  const table = schema.providerWebhookEvents;
  const key = (provider: WebhookProvider, eventId: string) =>
    and(eq(table.provider, provider), eq(table.eventId, eventId));

  return {
    /** Records a delivery; answers the row as it stands (processedAt set: handled already). */
    async receive(event: ReceivedEvent): Promise<{ first: boolean; row: WebhookEventRow }> {
      const [inserted] = await db
        .insert(table)
        .values({
          provider: event.provider,
          eventId: event.eventId,
          type: event.type,
          objectId: event.objectId,
          eventCreatedAt: event.createdAt,
        })
        .onConflictDoNothing()
        .returning();
      if (inserted) return { first: true, row: inserted };
      const [row] = await db
        .update(table)
        .set({ deliveries: sql`${table.deliveries} + 1` })
        .where(key(event.provider, event.eventId))
        .returning();
      if (!row) throw new Error(`webhook event ${event.eventId} vanished`);
      return { first: false, row };
    },

    /** Whether an event about the same object, created later than this one, has been handled already. */
    async newerHandled(event: ReceivedEvent): Promise<boolean> {
      if (!event.objectId) return false;
      const [row] = await db
        .select({ eventId: table.eventId })
        .from(table)
        .where(
          and(
            eq(table.provider, event.provider),
            eq(table.objectId, event.objectId),
            gt(table.eventCreatedAt, event.createdAt),
            isNotNull(table.processedAt),
          ),
        )
        .limit(1);
      return row !== undefined;
    },

    async finish(
      provider: WebhookProvider,
      eventId: string,
      outcome: WebhookOutcome,
      detail: string | null = null,
    ): Promise<void> {
      await db.update(table).set({ outcome, detail, processedAt: new Date() }).where(key(provider, eventId));
    },

    async get(provider: WebhookProvider, eventId: string): Promise<WebhookEventRow | undefined> {
      const [row] = await db.select().from(table).where(key(provider, eventId));
      return row;
    },

    /** Events an administrator must look at (amount or currency not the order's...), newest first. */
    async flagged(limit = 100): Promise<WebhookEventRow[]> {
      return db
        .select()
        .from(table)
        .where(eq(table.outcome, 'FLAGGED'))
        .orderBy(desc(table.receivedAt))
        .limit(limit);
    },
  };
}

export type WebhookEventsStorage = ReturnType<typeof createWebhookEventsStorage>;
