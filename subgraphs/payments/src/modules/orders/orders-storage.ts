import DataLoader from 'dataloader';
import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import type { Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

export type PaymentsDb = Db<typeof schema>;
/** The database or one of its transactions. */
export type Executor = Pick<PaymentsDb, 'insert' | 'select' | 'update' | 'delete' | 'execute'>;
export type OrderRow = typeof schema.orders.$inferSelect;
export type OrderStatus = OrderRow['status'];
export type Provider = (typeof schema.PROVIDERS)[number];
export type ItemType = (typeof schema.ITEM_TYPES)[number];
export type CatalogueItemRow = typeof schema.catalogueItems.$inferSelect;

export interface NewOrder {
  buyerId: string;
  itemType: ItemType;
  itemId: string;
  itemName: string;
  amountMinor: bigint;
  currency: string;
}

/** Records a status change of a locked order (the caller holds its row lock) with its history row. */
export async function moveOrder(
  tx: Executor,
  order: OrderRow,
  to: OrderStatus,
  reason: string | null,
): Promise<OrderRow> {
  if (order.status === to) return order;
  const [row] = await tx
    .update(schema.orders)
    .set({ status: to, updatedAt: new Date() })
    .where(and(eq(schema.orders.id, order.id), eq(schema.orders.status, order.status)))
    .returning();
  if (!row) throw new Error(`order ${order.id} changed under its lock`);
  await tx
    .insert(schema.orderStatusHistory)
    .values({ orderId: order.id, fromStatus: order.status, toStatus: to, reason });
  return row;
}

export async function lockOrder(tx: Executor, orderId: string): Promise<OrderRow | undefined> {
  const [row] = await tx.select().from(schema.orders).where(eq(schema.orders.id, orderId)).for('update');
  return row;
}

export function createOrdersStorage(db: PaymentsDb) {
  return {
    async catalogueItem(itemType: ItemType, itemId: string): Promise<CatalogueItemRow | undefined> {
      const [row] = await db
        .select()
        .from(schema.catalogueItems)
        .where(and(eq(schema.catalogueItems.itemType, itemType), eq(schema.catalogueItems.itemId, itemId)));
      return row;
    },

    /**
     * Creates the buyer's open order for the item, or returns the one already open (created: false). The
     * partial unique index orders_one_open makes a concurrent second insert conflict; it then reads the
     * winner's row, committed by then (the insert waited for it).
     */
    async createOrFindOpen(order: NewOrder): Promise<{ order: OrderRow; created: boolean }> {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const result = await db.transaction(async (tx) => {
          const [inserted] = await tx.insert(schema.orders).values(order).onConflictDoNothing().returning();
          if (inserted) {
            await tx
              .insert(schema.orderStatusHistory)
              .values({ orderId: inserted.id, fromStatus: null, toStatus: inserted.status, reason: null });
            return { order: inserted, created: true };
          }
          const [open] = await tx
            .select()
            .from(schema.orders)
            .where(
              and(
                eq(schema.orders.buyerId, order.buyerId),
                eq(schema.orders.itemType, order.itemType),
                eq(schema.orders.itemId, order.itemId),
                inArray(schema.orders.status, [...schema.OPEN_ORDER_STATUSES]),
              ),
            );
          return open ? { order: open, created: false } : undefined;
        });
        // Undefined: the open order closed between our conflict and our read; try again.
        if (result) return result;
      }
      throw new Error('could not create or find the open order');
    },

    async byId(id: string): Promise<OrderRow | undefined> {
      const [row] = await db.select().from(schema.orders).where(eq(schema.orders.id, id));
      return row;
    },

    async byIds(ids: readonly string[]): Promise<OrderRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(schema.orders)
        .where(inArray(schema.orders.id, [...ids]));
    },

    /** Moves an order if it is still in one of `from`; undefined when it is not (nothing changes). */
    async transition(
      orderId: string,
      from: readonly OrderStatus[],
      to: OrderStatus,
      reason: string | null,
    ): Promise<{ order: OrderRow; moved: boolean } | undefined> {
      return db.transaction(async (tx) => {
        const order = await lockOrder(tx, orderId);
        if (!order) return undefined;
        if (!from.includes(order.status)) return { order, moved: false };
        return { order: await moveOrder(tx, order, to, reason), moved: true };
      });
    },

    /** PENDING orders (nothing received) created before `before`, oldest first. */
    async stalePending(before: Date, limit: number): Promise<string[]> {
      const rows = await db
        .select({ id: schema.orders.id })
        .from(schema.orders)
        .where(and(eq(schema.orders.status, 'PENDING'), lt(schema.orders.createdAt, before)))
        .orderBy(schema.orders.createdAt)
        .limit(limit);
      return rows.map((row) => row.id);
    },

    async historyOf(orderIds: readonly string[]) {
      if (orderIds.length === 0) return [];
      return db
        .select()
        .from(schema.orderStatusHistory)
        .where(inArray(schema.orderStatusHistory.orderId, [...orderIds]))
        .orderBy(schema.orderStatusHistory.seq);
    },

    async history(orderId: string) {
      return db
        .select()
        .from(schema.orderStatusHistory)
        .where(eq(schema.orderStatusHistory.orderId, orderId))
        .orderBy(schema.orderStatusHistory.seq);
    },

    /** Idempotent: the same (provider, ref) for the same order is accepted again; for another order refused. */
    async setProviderRef(orderId: string, provider: Provider, ref: string): Promise<'set' | 'taken'> {
      const [inserted] = await db
        .insert(schema.orderProviderRefs)
        .values({ orderId, provider, ref })
        .onConflictDoNothing()
        .returning();
      if (inserted) return 'set';
      const [existing] = await db
        .select()
        .from(schema.orderProviderRefs)
        .where(and(eq(schema.orderProviderRefs.provider, provider), eq(schema.orderProviderRefs.ref, ref)));
      return existing?.orderId === orderId ? 'set' : 'taken';
    },

    async findByProviderRef(provider: Provider, ref: string): Promise<OrderRow | undefined> {
      const [row] = await db
        .select({ order: schema.orders })
        .from(schema.orderProviderRefs)
        .innerJoin(schema.orders, eq(schema.orders.id, schema.orderProviderRefs.orderId))
        .where(and(eq(schema.orderProviderRefs.provider, provider), eq(schema.orderProviderRefs.ref, ref)));
      return row?.order;
    },

    async providerRefs(orderId: string) {
      return db
        .select()
        .from(schema.orderProviderRefs)
        .where(eq(schema.orderProviderRefs.orderId, orderId))
        .orderBy(schema.orderProviderRefs.createdAt);
    },

    /** The buyer's orders, newest first, after a keyset cursor (createdAt, id). */
    async pageForBuyer(buyerId: string, size: number, after?: { createdAt: Date; id: string }) {
      return db
        .select()
        .from(schema.orders)
        .where(
          and(
            eq(schema.orders.buyerId, buyerId),
            after
              ? or(
                  lt(schema.orders.createdAt, after.createdAt),
                  and(eq(schema.orders.createdAt, after.createdAt), lt(schema.orders.id, after.id)),
                )
              : sql`true`,
          ),
        )
        .orderBy(desc(schema.orders.createdAt), desc(schema.orders.id))
        .limit(size + 1);
    },
  };
}

export type OrdersStorage = ReturnType<typeof createOrdersStorage>;

export type OrderStatusChangeRow = typeof schema.orderStatusHistory.$inferSelect;

export function createOrderLoaders(storage: OrdersStorage) {
  return {
    historyByOrder: new DataLoader<string, OrderStatusChangeRow[]>(async (ids) => {
      const rows = await storage.historyOf(ids);
      return ids.map((id) => rows.filter((row) => row.orderId === id));
    }),
    orderById: new DataLoader<string, OrderRow | null>(async (ids) => {
      const rows = await storage.byIds(ids);
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
