import { sql } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { Executor, ItemType } from '../orders/orders-storage.js';

export interface CatalogueFact {
  itemType: ItemType;
  itemId: string;
  slug: string;
  /** Undefined: the event did not say (keep what is known). */
  name?: string;
  price?: { amountMinor: bigint; currency: string } | null;
  /** Undefined: keep the current status (a new row is UNLISTED). */
  status?: 'AVAILABLE' | 'UNLISTED' | 'ARCHIVED';
  /** The event's time: an older fact delivered after a newer one changes nothing. */
  at: Date;
}

/** payments' projection of the owning subgraphs' catalogues (db/schema.ts `catalogueItems`). */
export function createCatalogueStorage() {
  return {
    async apply(tx: Executor, fact: CatalogueFact): Promise<void> {
      const table = schema.catalogueItems;
      const price = fact.price === undefined ? undefined : fact.price;
      await tx
        .insert(table)
        .values({
          itemType: fact.itemType,
          itemId: fact.itemId,
          slug: fact.slug,
          name: fact.name ?? fact.slug,
          priceAmountMinor: price?.amountMinor ?? null,
          currency: price?.currency ?? null,
          status: fact.status ?? 'UNLISTED',
          sourceAt: fact.at,
        })
        .onConflictDoUpdate({
          target: [table.itemType, table.itemId],
          set: {
            slug: fact.slug,
            ...(fact.name !== undefined ? { name: fact.name } : {}),
            ...(price !== undefined
              ? { priceAmountMinor: price?.amountMinor ?? null, currency: price?.currency ?? null }
              : {}),
            ...(fact.status !== undefined ? { status: fact.status } : {}),
            sourceAt: fact.at,
            updatedAt: new Date(),
          },
          setWhere: sql`${table.sourceAt} <= ${fact.at.toISOString()}::timestamptz`,
        });
    },
  };
}
