import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { eventTables } from '@symbeon/kernel';

export const payments = pgSchema('payments');

const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
/** Money: integer minor units of an ISO 4217 currency, read as bigint. Never floats. */
const money = (name: string) => bigint(name, { mode: 'bigint' });

export const PROVIDERS = ['STRIPE', 'PAYPAL', 'CRYPTO'] as const;
export const ORDER_STATUSES = [
  'PENDING',
  'PAID',
  'UNDERPAID',
  'OVERPAID',
  'EXPIRED',
  'REFUNDED',
  'CANCELLED',
] as const;
/** An order still waiting for (more) money: at most one per buyer and item. */
export const OPEN_ORDER_STATUSES = ['PENDING', 'UNDERPAID'] as const;
export const ITEM_TYPES = ['programme'] as const;

export const { outbox, processedEvents } = eventTables(payments);

/**
 * What can be bought, projected from the owning subgraphs' events (certification.Programme*). Written only by
 * the catalogue consumer; `sourceAt` (the event's time) keeps an older event delivered late from undoing a
 * newer one.
 */
export const catalogueItems = payments.table(
  'catalogue_items',
  {
    itemType: text('item_type', { enum: ITEM_TYPES }).notNull(),
    itemId: uuid('item_id').notNull(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    // Both null: free (nothing to buy).
    priceAmountMinor: money('price_amount_minor'),
    currency: text('currency'),
    status: text('status', { enum: ['AVAILABLE', 'UNLISTED', 'ARCHIVED'] }).notNull(),
    sourceAt: at('source_at').notNull(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.itemType, table.itemId] }),
    check(
      'catalogue_items_price',
      sql`(${table.priceAmountMinor} is null) = (${table.currency} is null) and coalesce(${table.priceAmountMinor}, 1) > 0`,
    ),
  ],
);

const openList = sql.raw(OPEN_ORDER_STATUSES.map((status) => `'${status}'`).join(', '));

export const orders = payments.table(
  'orders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // identity's User id of the buyer.
    buyerId: uuid('buyer_id').notNull(),
    itemType: text('item_type', { enum: ITEM_TYPES }).notNull(),
    itemId: uuid('item_id').notNull(),
    // The item's name and price when the order was made: later catalogue changes do not touch it.
    itemName: text('item_name').notNull(),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    // Written only by the orders/settlement storage, with an order_status_history row in the same transaction.
    status: text('status', { enum: ORDER_STATUSES }).notNull().default('PENDING'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (table) => [
    // One open order per buyer and item, race-free: a concurrent second insert conflicts.
    uniqueIndex('orders_one_open')
      .on(table.buyerId, table.itemType, table.itemId)
      .where(sql`${table.status} in (${openList})`),
    index('orders_buyer_idx').on(table.buyerId, table.createdAt.desc(), table.id.desc()),
    check('orders_amount_positive', sql`${table.amountMinor} > 0`),
    check('orders_currency', sql`${table.currency} ~ '^[A-Z]{3}$'`),
  ],
);

export const orderStatusHistory = payments.table(
  'order_status_history',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    // Null for the creation of the order.
    fromStatus: text('from_status', { enum: ORDER_STATUSES }),
    toStatus: text('to_status', { enum: ORDER_STATUSES }).notNull(),
    reason: text('reason'),
    at: at('at').notNull().defaultNow(),
  },
  (table) => [index('order_status_history_order_idx').on(table.orderId, table.seq)],
);

/** A provider's reference to an order (Stripe Checkout Session id, PayPal order id, crypto order ref...). */
export const orderProviderRefs = payments.table(
  'order_provider_refs',
  {
    provider: text('provider', { enum: PROVIDERS }).notNull(),
    ref: text('ref').notNull(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.ref] }),
    index('order_provider_refs_order_idx').on(table.orderId),
  ],
);

/** Money received. Written only by settlement; one row per provider payment, however often it is reported. */
export const paymentsTable = payments.table(
  'payments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    buyerId: uuid('buyer_id').notNull(),
    provider: text('provider', { enum: PROVIDERS }).notNull(),
    providerPaymentId: text('provider_payment_id').notNull(),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    // What the payment did to its order: SETTLED (paid it), PARTIAL, EXCESS (on a paid order), LATE (closed order).
    outcome: text('outcome', { enum: ['SETTLED', 'PARTIAL', 'EXCESS', 'LATE'] }).notNull(),
    receivedAt: at('received_at').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('payments_provider_payment').on(table.provider, table.providerPaymentId),
    index('payments_order_idx').on(table.orderId),
    index('payments_buyer_idx').on(table.buyerId, table.createdAt.desc(), table.id.desc()),
    check('payments_amount_positive', sql`${table.amountMinor} > 0`),
  ],
);

/** Money sent back. Written only by settlement's refund; one row per provider refund. */
export const refunds = payments.table(
  'refunds',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    provider: text('provider', { enum: PROVIDERS }).notNull(),
    providerRefundId: text('provider_refund_id').notNull(),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    reason: text('reason'),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('refunds_provider_refund').on(table.provider, table.providerRefundId),
    index('refunds_order_idx').on(table.orderId),
    check('refunds_amount_positive', sql`${table.amountMinor} > 0`),
  ],
);

/**
 * The double-entry journal. Every entry's lines balance per currency (debits = credits), checked by the
 * deferred constraint trigger payments.journal_entry_balanced (migration 0000) when the transaction commits.
 */
export const journalEntries = payments.table(
  'journal_entries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind', { enum: ['PAYMENT', 'INVOICE', 'CREDIT_NOTE', 'REFUND'] }).notNull(),
    orderId: uuid('order_id').references(() => orders.id),
    // The payment, invoice, credit note or refund the entry books.
    sourceId: uuid('source_id').notNull(),
    memo: text('memo').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('journal_entries_source').on(table.kind, table.sourceId),
    index('journal_entries_order_idx').on(table.orderId),
  ],
);

export const journalLines = payments.table(
  'journal_lines',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    entryId: uuid('entry_id')
      .notNull()
      .references(() => journalEntries.id),
    // e.g. cash:stripe, cash:crypto:eth, customer-deposits, revenue:certification, tax:vat-payable, refunds.
    account: text('account').notNull(),
    // The provider the money moved through (reconciliation per provider); null for internal transfers.
    provider: text('provider', { enum: PROVIDERS }),
    debitMinor: money('debit_minor')
      .notNull()
      .default(sql`0`),
    creditMinor: money('credit_minor')
      .notNull()
      .default(sql`0`),
    currency: text('currency').notNull(),
  },
  (table) => [
    index('journal_lines_entry_idx').on(table.entryId),
    index('journal_lines_account_idx').on(table.account, table.currency),
    check(
      'journal_lines_one_side',
      sql`${table.debitMinor} >= 0 and ${table.creditMinor} >= 0 and (${table.debitMinor} = 0) <> (${table.creditMinor} = 0)`,
    ),
  ],
);

/**
 * Gap-free numbering: one row per series, incremented inside the transaction that issues the document, so a
 * rolled-back issue gives its number back and concurrent issues queue on the row lock.
 */
export const documentCounters = payments.table('document_counters', {
  series: text('series').primaryKey(),
  lastNumber: integer('last_number').notNull(),
});

export interface InvoiceLine {
  description: string;
  quantity: number;
  /** Tax-exclusive amounts, minor units as decimal strings (JSON has no bigint). */
  unitNetMinor: string;
  netMinor: string;
}

export interface InvoiceTaxLine {
  label: string;
  rateBps: number;
  baseMinor: string;
  taxMinor: string;
}

export interface InvoiceParty {
  name: string;
  addressLines: string[];
  vatId?: string;
  /** identity's User id (buyer only). */
  userId?: string;
}

/** Invoices and credit notes (kind), each numbered in its own series. Written only by settlement. */
export const invoices = payments.table(
  'invoices',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind', { enum: ['INVOICE', 'CREDIT_NOTE'] }).notNull(),
    series: text('series').notNull(),
    sequence: integer('sequence').notNull(),
    number: text('number').notNull().unique(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    buyerId: uuid('buyer_id').notNull(),
    // The invoice a credit note corrects.
    creditsInvoiceId: uuid('credits_invoice_id'),
    // The payment that completed the order (invoice) or the refund (credit note).
    sourceId: uuid('source_id').notNull(),
    issuedAt: at('issued_at').notNull(),
    currency: text('currency').notNull(),
    netMinor: money('net_minor').notNull(),
    taxMinor: money('tax_minor').notNull(),
    totalMinor: money('total_minor').notNull(),
    lines: jsonb('lines').$type<InvoiceLine[]>().notNull(),
    taxLines: jsonb('tax_lines').$type<InvoiceTaxLine[]>().notNull(),
    seller: jsonb('seller').$type<InvoiceParty>().notNull(),
    buyer: jsonb('buyer').$type<InvoiceParty>().notNull(),
    // The PDF in the content store; set after the issuing transaction commits (rendered again if missing).
    pdfCid: text('pdf_cid'),
  },
  (table) => [
    uniqueIndex('invoices_series_sequence').on(table.series, table.sequence),
    uniqueIndex('invoices_one_per_order')
      .on(table.orderId)
      .where(sql`${table.kind} = 'INVOICE'`),
    index('invoices_buyer_idx').on(table.buyerId, table.issuedAt.desc(), table.id.desc()),
    check('invoices_total', sql`${table.totalMinor} = ${table.netMinor} + ${table.taxMinor}`),
  ],
);

/**
 * The users payments knows, projected from identity's `identity.UserCreated` events: the buyer's handle on
 * invoices without reading identity's tables.
 */
export const knownUsers = payments.table('known_users', {
  userId: uuid('user_id').primaryKey(),
  handle: text('handle').notNull(),
  learnedAt: at('learned_at').notNull().defaultNow(),
});
