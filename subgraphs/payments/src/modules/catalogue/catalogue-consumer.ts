import { consumeEvents, type EventTransport, type Subscription } from '@symbeon/kernel';
import { z } from 'zod';
import * as schema from '../../db/schema.js';
import type { PaymentsDb } from '../orders/orders-storage.js';
import { createCatalogueStorage, type CatalogueFact } from './catalogue-storage.js';

/** certification's events, as it publishes them (a contract, not an import: subgraphs never import each other). */
export const ProgrammeEvents = {
  Published: 'certification.ProgrammePublished',
  Updated: 'certification.ProgrammeUpdated',
  Archived: 'certification.ProgrammeArchived',
} as const;

const programmeEvent = z.object({
  programmeId: z.uuid(),
  slug: z.string().min(1),
  name: z.string().min(1).optional(),
  // Minor units as a decimal string; both null when the programme is free.
  priceAmountMinor: z
    .string()
    .regex(/^[1-9]\d{0,17}$/)
    .nullable()
    .optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .nullable()
    .optional(),
});

/** What one programme event says about the item; undefined when the payload is not one we understand. */
export function programmeFact(type: string, payload: unknown, occurredAt: string): CatalogueFact | undefined {
  const parsed = programmeEvent.safeParse(payload);
  if (!parsed.success) return undefined;
  const { programmeId, slug, name, priceAmountMinor, currency } = parsed.data;
  const price =
    priceAmountMinor === undefined
      ? undefined
      : priceAmountMinor !== null && currency
        ? { amountMinor: BigInt(priceAmountMinor), currency }
        : null;
  const fact: CatalogueFact = {
    itemType: 'programme',
    itemId: programmeId,
    slug,
    at: new Date(occurredAt),
    ...(name !== undefined ? { name } : {}),
    ...(price !== undefined ? { price } : {}),
  };
  if (type === ProgrammeEvents.Published) return { ...fact, status: 'AVAILABLE' };
  if (type === ProgrammeEvents.Archived) return { ...fact, status: 'ARCHIVED' };
  // Updated: new name or price, status unchanged (a programme updated before it is published stays unlisted).
  return fact;
}

/**
 * Keeps `catalogue_items` in step with certification's programmes. Idempotent (processed-events table), and
 * an older event delivered after a newer one changes nothing (catalogue_items.source_at).
 */
export function consumeCatalogueEvents(db: PaymentsDb, transport: EventTransport): Promise<Subscription> {
  const storage = createCatalogueStorage();
  return consumeEvents({
    db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport,
    consumer: 'payments.catalogue',
    types: Object.values(ProgrammeEvents),
    handle: async (event, tx) => {
      const fact = programmeFact(event.type, event.payload, event.occurredAt);
      if (!fact) throw new Error(`Malformed ${event.type} payload in event ${event.id}`);
      await storage.apply(tx, fact);
    },
  });
}
