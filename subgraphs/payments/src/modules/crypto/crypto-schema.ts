import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  numeric,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
// A provider module's tables live in the payments pgSchema beside the core's (drizzle.config.ts collects
// modules/*/*-schema.ts); only crypto-storage.ts queries them.
// eslint-disable-next-line no-restricted-imports -- table declarations, not queries
import { orders, payments } from '../../db/schema.js';

// The crypto module's own tables (in the payments schema; drizzle.config.ts picks up modules' *-schema.ts).
// Read and written only by crypto-storage.ts.

const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
/** Money: integer minor units of an ISO 4217 currency, read as bigint. Never floats. */
const money = (name: string) => bigint(name, { mode: 'bigint' });

export const CRYPTO_QUOTE_STATUSES = ['ACTIVE', 'REPLACED', 'EXPIRED', 'PAID'] as const;

/** A price in token units for an order, valid until expiresAt. At most one ACTIVE per order. */
export const cryptoQuotes = payments.table(
  'crypto_quotes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id),
    chainId: integer('chain_id').notNull(),
    receiver: text('receiver').notNull(),
    // keccak256 of the order id: every quote of an order has the same one.
    orderRef: text('order_ref').notNull(),
    // EIP-55; the zero address for the native coin.
    token: text('token').notNull(),
    tokenSymbol: text('token_symbol').notNull(),
    tokenDecimals: integer('token_decimals').notNull(),
    // Token smallest units (wei...), rounded up from the price; numeric: may exceed bigint.
    amount: numeric('amount', { precision: 78, scale: 0 }).notNull(),
    priceMinor: money('price_minor').notNull(),
    currency: text('currency').notNull(),
    // Minor units of `currency` per whole token, a decimal string, and where it came from.
    rate: text('rate').notNull(),
    rateSource: text('rate_source').notNull(),
    status: text('status', { enum: CRYPTO_QUOTE_STATUSES }).notNull().default('ACTIVE'),
    expiresAt: at('expires_at').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    // Set by refundCryptoExcess: the excess was recorded as refunded (the treasury sends it back).
    excessRefundedAt: at('excess_refunded_at'),
  },
  (table) => [
    uniqueIndex('crypto_quotes_one_active')
      .on(table.orderId)
      .where(sql`${table.status} = 'ACTIVE'`),
    index('crypto_quotes_order_idx').on(table.orderId, table.createdAt.desc()),
  ],
);

export const CRYPTO_PAYMENT_STATUSES = [
  // Stored by the consumer, not decided yet.
  'RECEIVED',
  // Counted for its quote; handed to settlement (creditedMinor) — SETTLING until settlement answered.
  'SETTLING',
  'APPLIED',
  // Held for an administrator (needsReview): after the quote and its top-up window, unknown orderRef, a
  // token other than the quote's.
  'LATE',
  'UNMATCHED',
  'WRONG_TOKEN',
  // Resolutions of held payments.
  'ACCEPTED',
  'REFUNDED',
  // A reorganisation removed it before it was handed to settlement.
  'DROPPED',
] as const;

/** One PaymentReceived log as the chain subgraph published it (unique per block hash + log index). */
export const cryptoPayments = payments.table(
  'crypto_payments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    eventId: text('event_id').notNull(),
    chainId: integer('chain_id').notNull(),
    contract: text('contract').notNull(),
    txHash: text('tx_hash').notNull(),
    logIndex: integer('log_index').notNull(),
    blockNumber: bigint('block_number', { mode: 'number' }).notNull(),
    blockHash: text('block_hash').notNull(),
    orderRef: text('order_ref').notNull(),
    payer: text('payer').notNull(),
    token: text('token').notNull(),
    amount: numeric('amount', { precision: 78, scale: 0 }).notNull(),
    occurredAt: at('occurred_at').notNull(),
    orderId: uuid('order_id').references(() => orders.id),
    quoteId: uuid('quote_id').references(() => cryptoQuotes.id),
    // What it is worth in the order's currency as credited to the order (see crypto-amounts.ts).
    creditedMinor: money('credited_minor'),
    currency: text('currency'),
    status: text('status', { enum: CRYPTO_PAYMENT_STATUSES }).notNull().default('RECEIVED'),
    // settlement's payments.id once handed over.
    settlementPaymentId: uuid('settlement_payment_id'),
    // The suspense journal entry of a held payment (reversed when it is resolved or dropped).
    suspenseEntryId: uuid('suspense_entry_id'),
    needsReview: boolean('needs_review').notNull().default(false),
    reviewReason: text('review_reason'),
    resolvedAt: at('resolved_at'),
    resolvedBy: uuid('resolved_by'),
    resolution: text('resolution'),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('crypto_payments_log').on(table.chainId, table.blockHash, table.logIndex),
    index('crypto_payments_quote_idx').on(table.quoteId),
    index('crypto_payments_status_idx').on(table.status),
    index('crypto_payments_review_idx')
      .on(table.createdAt)
      .where(sql`${table.needsReview}`),
  ],
);

/** Admin-set rates (setCryptoRate): minor units of `currency` per whole token. The production rate source. */
export const cryptoRates = payments.table(
  'crypto_rates',
  {
    symbol: text('symbol').notNull(),
    currency: text('currency').notNull(),
    rate: text('rate').notNull(),
    setBy: uuid('set_by').notNull(),
    setAt: at('set_at').notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.symbol, table.currency] })],
);
