import DataLoader from 'dataloader';
import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import type { PaymentsDb } from '../orders/orders-storage.js';
import type { InvoiceRow, PaymentRow } from '../settlement/settlement-storage.js';

export type { InvoiceRow, PaymentRow };

type Cursor = { at: Date; id: string };

export function createInvoicesStorage(db: PaymentsDb) {
  return {
    async byId(id: string): Promise<InvoiceRow | undefined> {
      const [row] = await db.select().from(schema.invoices).where(eq(schema.invoices.id, id));
      return row;
    },

    async byIds(ids: readonly string[]): Promise<InvoiceRow[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(schema.invoices)
        .where(inArray(schema.invoices.id, [...ids]));
    },

    async invoicesOfOrders(orderIds: readonly string[]): Promise<InvoiceRow[]> {
      if (orderIds.length === 0) return [];
      return db
        .select()
        .from(schema.invoices)
        .where(and(inArray(schema.invoices.orderId, [...orderIds]), eq(schema.invoices.kind, 'INVOICE')));
    },

    async paymentsOfOrders(orderIds: readonly string[]): Promise<PaymentRow[]> {
      if (orderIds.length === 0) return [];
      return db
        .select()
        .from(schema.paymentsTable)
        .where(inArray(schema.paymentsTable.orderId, [...orderIds]))
        .orderBy(schema.paymentsTable.receivedAt, schema.paymentsTable.id);
    },

    /** Set once: the same document always renders to the same bytes' place (first writer wins). */
    async setPdfCid(id: string, cid: string): Promise<void> {
      await db
        .update(schema.invoices)
        .set({ pdfCid: cid })
        .where(and(eq(schema.invoices.id, id), sql`${schema.invoices.pdfCid} is null`));
    },

    /** The buyer's invoices and credit notes, newest first, after a keyset cursor (issuedAt, id). */
    async pageForBuyer(buyerId: string, size: number, after?: Cursor): Promise<InvoiceRow[]> {
      const table = schema.invoices;
      return db
        .select()
        .from(table)
        .where(
          and(
            eq(table.buyerId, buyerId),
            after
              ? or(lt(table.issuedAt, after.at), and(eq(table.issuedAt, after.at), lt(table.id, after.id)))
              : undefined,
          ),
        )
        .orderBy(desc(table.issuedAt), desc(table.id))
        .limit(size + 1);
    },

    /** Payments an administrator should look at (LATE: order closed; EXCESS: owed back), newest first. */
    async reviewPage(size: number, after?: Cursor): Promise<PaymentRow[]> {
      const table = schema.paymentsTable;
      return db
        .select()
        .from(table)
        .where(
          and(
            inArray(table.outcome, ['LATE', 'EXCESS']),
            after
              ? or(lt(table.createdAt, after.at), and(eq(table.createdAt, after.at), lt(table.id, after.id)))
              : undefined,
          ),
        )
        .orderBy(desc(table.createdAt), desc(table.id))
        .limit(size + 1);
    },

    /** The buyer's payments, newest first, after a keyset cursor (createdAt, id). */
    async paymentsPageForBuyer(buyerId: string, size: number, after?: Cursor): Promise<PaymentRow[]> {
      const table = schema.paymentsTable;
      return db
        .select()
        .from(table)
        .where(
          and(
            eq(table.buyerId, buyerId),
            after
              ? or(lt(table.createdAt, after.at), and(eq(table.createdAt, after.at), lt(table.id, after.id)))
              : undefined,
          ),
        )
        .orderBy(desc(table.createdAt), desc(table.id))
        .limit(size + 1);
    },
  };
}

export type InvoicesStorage = ReturnType<typeof createInvoicesStorage>;

export function createInvoiceLoaders(storage: InvoicesStorage) {
  return {
    invoiceByOrder: new DataLoader<string, InvoiceRow | null>(async (orderIds) => {
      const rows = await storage.invoicesOfOrders(orderIds);
      const byOrder = new Map(rows.map((row) => [row.orderId, row]));
      return orderIds.map((id) => byOrder.get(id) ?? null);
    }),
    invoiceById: new DataLoader<string, InvoiceRow | null>(async (ids) => {
      const rows = await storage.byIds(ids);
      return ids.map((id) => rows.find((row) => row.id === id) ?? null);
    }),
    paymentsByOrder: new DataLoader<string, PaymentRow[]>(async (orderIds) => {
      const rows = await storage.paymentsOfOrders(orderIds);
      return orderIds.map((id) => rows.filter((row) => row.orderId === id));
    }),
  };
}
