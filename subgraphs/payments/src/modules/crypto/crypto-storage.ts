import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import * as schema from '../../db/schema.js';
import * as cryptoTables from './crypto-schema.js';
import { Account, credit, debit, type LedgerLine } from '../ledger/accounts.js';
import type { Executor, OrderRow, PaymentsDb } from '../orders/orders-storage.js';

export type CryptoQuoteRow = typeof cryptoTables.cryptoQuotes.$inferSelect;
export type NewCryptoQuote = typeof cryptoTables.cryptoQuotes.$inferInsert;
export type CryptoPaymentRow = typeof cryptoTables.cryptoPayments.$inferSelect;
export type CryptoPaymentStatus = CryptoPaymentRow['status'];

/** The statuses of a payment counted towards its quote (handed to settlement). */
export const COUNTED: CryptoPaymentStatus[] = ['SETTLING', 'APPLIED', 'ACCEPTED'];
/** Held for an administrator, with a suspense entry in the journal. */
export const HELD: CryptoPaymentStatus[] = ['LATE', 'UNMATCHED', 'WRONG_TOKEN'];

/**
 * Held crypto payments are booked Dr cash:crypto:<token> / Cr crypto-suspense (money in our wallet that no
 * order claims yet). Resolving or dropping one reverses that entry; an accepted one is then booked by settlement.
 */
export const CRYPTO_SUSPENSE = 'crypto-suspense';

export interface ReceivedPayment {
  eventId: string;
  chainId: number;
  contract: string;
  txHash: string;
  logIndex: number;
  blockNumber: number;
  blockHash: string;
  orderRef: string;
  payer: string;
  token: string;
  amount: bigint;
  occurredAt: Date;
}

export function createCryptoStorage(db: PaymentsDb) {
  async function book(
    tx: Executor,
    entry: { kind: 'PAYMENT' | 'REFUND'; orderId: string | null; sourceId: string; memo: string },
    lines: LedgerLine[],
  ): Promise<string> {
    const [row] = await tx
      .insert(schema.journalEntries)
      .values(entry)
      .returning({ id: schema.journalEntries.id });
    if (!row) throw new Error('journal entry not written');
    await tx.insert(schema.journalLines).values(lines.map((line) => ({ ...line, entryId: row.id })));
    return row.id;
  }

  return {
    // --- quotes

    async latestQuote(orderId: string, tx: Executor = db): Promise<CryptoQuoteRow | undefined> {
      const [row] = await tx
        .select()
        .from(cryptoTables.cryptoQuotes)
        .where(eq(cryptoTables.cryptoQuotes.orderId, orderId))
        .orderBy(desc(cryptoTables.cryptoQuotes.createdAt))
        .limit(1);
      return row;
    },

    async quotesOfOrders(orderIds: readonly string[]): Promise<CryptoQuoteRow[]> {
      if (orderIds.length === 0) return [];
      return db
        .select()
        .from(cryptoTables.cryptoQuotes)
        .where(inArray(cryptoTables.cryptoQuotes.orderId, [...orderIds]))
        .orderBy(desc(cryptoTables.cryptoQuotes.createdAt));
    },

    async quoteById(id: string, tx: Executor = db): Promise<CryptoQuoteRow | undefined> {
      const [row] = await tx
        .select()
        .from(cryptoTables.cryptoQuotes)
        .where(eq(cryptoTables.cryptoQuotes.id, id));
      return row;
    },

    /**
     * Inserts `quote` as the order's ACTIVE quote, the earlier ACTIVE one becoming REPLACED — unless a payment
     * was already counted towards it ('has-payments': nothing changes). Under the order's row lock, so two
     * concurrent requests leave exactly one ACTIVE quote.
     */
    async replaceQuote(quote: NewCryptoQuote): Promise<CryptoQuoteRow | 'has-payments'> {
      return db.transaction(async (tx) => {
        await tx.execute(sql`select id from payments.orders where id = ${quote.orderId} for update`);
        const [active] = await tx
          .select()
          .from(cryptoTables.cryptoQuotes)
          .where(
            and(
              eq(cryptoTables.cryptoQuotes.orderId, quote.orderId),
              eq(cryptoTables.cryptoQuotes.status, 'ACTIVE'),
            ),
          );
        if (active) {
          const [counted] = await tx
            .select({ id: cryptoTables.cryptoPayments.id })
            .from(cryptoTables.cryptoPayments)
            .where(
              and(
                eq(cryptoTables.cryptoPayments.quoteId, active.id),
                inArray(cryptoTables.cryptoPayments.status, COUNTED),
              ),
            )
            .limit(1);
          if (counted) return 'has-payments';
          await tx
            .update(cryptoTables.cryptoQuotes)
            .set({ status: 'REPLACED' })
            .where(eq(cryptoTables.cryptoQuotes.id, active.id));
        }
        const [row] = await tx.insert(cryptoTables.cryptoQuotes).values(quote).returning();
        if (!row) throw new Error('quote not written');
        return row;
      });
    },

    async lockQuote(tx: Executor, id: string): Promise<CryptoQuoteRow | undefined> {
      const [row] = await tx
        .select()
        .from(cryptoTables.cryptoQuotes)
        .where(eq(cryptoTables.cryptoQuotes.id, id))
        .for('update');
      return row;
    },

    async setQuoteStatus(tx: Executor, id: string, status: CryptoQuoteRow['status']): Promise<void> {
      await tx.update(cryptoTables.cryptoQuotes).set({ status }).where(eq(cryptoTables.cryptoQuotes.id, id));
    },

    async markExcessRefunded(id: string, at: Date): Promise<boolean> {
      const updated = await db
        .update(cryptoTables.cryptoQuotes)
        .set({ excessRefundedAt: at })
        .where(and(eq(cryptoTables.cryptoQuotes.id, id), isNull(cryptoTables.cryptoQuotes.excessRefundedAt)))
        .returning({ id: cryptoTables.cryptoQuotes.id });
      return updated.length > 0;
    },

    /** Token units and order-currency value counted towards a quote so far. */
    async countedFor(quoteId: string, tx: Executor = db): Promise<{ amount: bigint; creditedMinor: bigint }> {
      const [row] = await tx
        .select({
          amount: sql<string>`coalesce(sum(${cryptoTables.cryptoPayments.amount}), 0)::text`,
          credited: sql<string>`coalesce(sum(${cryptoTables.cryptoPayments.creditedMinor}), 0)::text`,
        })
        .from(cryptoTables.cryptoPayments)
        .where(
          and(
            eq(cryptoTables.cryptoPayments.quoteId, quoteId),
            inArray(cryptoTables.cryptoPayments.status, COUNTED),
          ),
        );
      return { amount: BigInt(row?.amount ?? '0'), creditedMinor: BigInt(row?.credited ?? '0') };
    },

    /** The payers who paid a quote (the excess goes back to the last one). */
    async countedPayments(quoteId: string): Promise<CryptoPaymentRow[]> {
      return db
        .select()
        .from(cryptoTables.cryptoPayments)
        .where(
          and(
            eq(cryptoTables.cryptoPayments.quoteId, quoteId),
            inArray(cryptoTables.cryptoPayments.status, COUNTED),
          ),
        )
        .orderBy(asc(cryptoTables.cryptoPayments.blockNumber), asc(cryptoTables.cryptoPayments.logIndex));
    },

    /** The order an orderRef names (the crypto provider ref set when its first quote was made). */
    async orderByRef(tx: Executor, orderRef: string): Promise<OrderRow | undefined> {
      const [row] = await tx
        .select({ order: schema.orders })
        .from(schema.orderProviderRefs)
        .innerJoin(schema.orders, eq(schema.orders.id, schema.orderProviderRefs.orderId))
        .where(
          and(eq(schema.orderProviderRefs.provider, 'CRYPTO'), eq(schema.orderProviderRefs.ref, orderRef)),
        );
      return row?.order;
    },

    // --- payments

    /** Stores a reported payment once (per block hash and log index); false when it was already there. */
    async recordReceived(tx: Executor, payment: ReceivedPayment): Promise<boolean> {
      const inserted = await tx
        .insert(cryptoTables.cryptoPayments)
        .values({ ...payment, amount: payment.amount.toString() })
        .onConflictDoNothing()
        .returning({ id: cryptoTables.cryptoPayments.id });
      return inserted.length > 0;
    },

    /** Payments still to decide (RECEIVED) or to hand to settlement (SETTLING, not held). */
    async pendingIds(limit: number): Promise<string[]> {
      const rows = await db
        .select({ id: cryptoTables.cryptoPayments.id })
        .from(cryptoTables.cryptoPayments)
        .where(
          sql`${cryptoTables.cryptoPayments.status} = 'RECEIVED' or (${cryptoTables.cryptoPayments.status} = 'SETTLING' and not ${cryptoTables.cryptoPayments.needsReview})`,
        )
        .orderBy(asc(cryptoTables.cryptoPayments.blockNumber), asc(cryptoTables.cryptoPayments.logIndex))
        .limit(limit);
      return rows.map((row) => row.id);
    },

    /** Runs `body` in a transaction holding the payment's row lock (skipped when another replica holds it). */
    async withPayment<T>(
      id: string,
      body: (tx: Executor, payment: CryptoPaymentRow) => Promise<T>,
    ): Promise<T | undefined> {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .select()
          .from(cryptoTables.cryptoPayments)
          .where(eq(cryptoTables.cryptoPayments.id, id))
          .for('update', { skipLocked: true });
        return row ? body(tx, row) : undefined;
      });
    },

    /**
     * Another stored payment of the same transaction, order, token and amount that was not dropped: the same
     * payment seen at a new position after a reorganisation (re-mined), not a second one.
     */
    async earlierSighting(tx: Executor, payment: CryptoPaymentRow): Promise<CryptoPaymentRow | undefined> {
      const [row] = await tx
        .select()
        .from(cryptoTables.cryptoPayments)
        .where(
          and(
            eq(cryptoTables.cryptoPayments.chainId, payment.chainId),
            eq(cryptoTables.cryptoPayments.txHash, payment.txHash),
            eq(cryptoTables.cryptoPayments.orderRef, payment.orderRef),
            eq(cryptoTables.cryptoPayments.token, payment.token),
            eq(cryptoTables.cryptoPayments.amount, payment.amount),
            sql`${cryptoTables.cryptoPayments.id} <> ${payment.id}`,
            sql`${cryptoTables.cryptoPayments.status} not in ('DROPPED', 'RECEIVED')`,
          ),
        )
        .limit(1)
        .for('update');
      return row;
    },

    async paymentById(id: string): Promise<CryptoPaymentRow | undefined> {
      const [row] = await db
        .select()
        .from(cryptoTables.cryptoPayments)
        .where(eq(cryptoTables.cryptoPayments.id, id));
      return row;
    },

    async updatePayment(
      tx: Executor,
      id: string,
      set: Partial<Omit<CryptoPaymentRow, 'id'>>,
    ): Promise<CryptoPaymentRow> {
      const [row] = await tx
        .update(cryptoTables.cryptoPayments)
        .set(set)
        .where(eq(cryptoTables.cryptoPayments.id, id))
        .returning();
      if (!row) throw new Error(`crypto payment ${id} vanished`);
      return row;
    },

    /** The stored payments a reorganisation removed (matched on chain, block hash and log index). */
    async paymentsAt(
      tx: Executor,
      chainId: number,
      logs: Array<{ blockHash: string; logIndex: number }>,
    ): Promise<CryptoPaymentRow[]> {
      const found: CryptoPaymentRow[] = [];
      for (const log of logs) {
        const rows = await tx
          .select()
          .from(cryptoTables.cryptoPayments)
          .where(
            and(
              eq(cryptoTables.cryptoPayments.chainId, chainId),
              eq(cryptoTables.cryptoPayments.blockHash, log.blockHash),
              eq(cryptoTables.cryptoPayments.logIndex, log.logIndex),
            ),
          )
          .for('update');
        found.push(...rows);
      }
      return found;
    },

    async needingReview(limit: number): Promise<CryptoPaymentRow[]> {
      return db
        .select()
        .from(cryptoTables.cryptoPayments)
        .where(
          and(
            eq(cryptoTables.cryptoPayments.needsReview, true),
            isNull(cryptoTables.cryptoPayments.resolvedAt),
          ),
        )
        .orderBy(asc(cryptoTables.cryptoPayments.createdAt))
        .limit(limit);
    },

    /** Books a held payment into suspense; returns the journal entry's id. */
    async bookSuspense(
      tx: Executor,
      payment: CryptoPaymentRow,
      valueMinor: bigint,
      currency: string,
      tokenSymbol: string,
    ): Promise<string> {
      return book(
        tx,
        {
          kind: 'PAYMENT',
          orderId: payment.orderId,
          sourceId: payment.id,
          memo: `crypto payment ${payment.txHash}:${payment.logIndex} held (${payment.status.toLowerCase()})`,
        },
        [
          debit(Account.cash('CRYPTO', { token: tokenSymbol }), valueMinor, currency, 'CRYPTO'),
          credit(CRYPTO_SUSPENSE, valueMinor, currency),
        ],
      );
    },

    /** Reverses a suspense entry (the payment was accepted, refunded or removed by a reorganisation). */
    async reverseSuspense(tx: Executor, payment: CryptoPaymentRow, why: string): Promise<void> {
      if (!payment.suspenseEntryId) return;
      const lines = await tx
        .select()
        .from(schema.journalLines)
        .where(eq(schema.journalLines.entryId, payment.suspenseEntryId));
      await book(
        tx,
        {
          kind: 'REFUND',
          orderId: payment.orderId,
          sourceId: payment.id,
          memo: `crypto payment ${payment.txHash}:${payment.logIndex} out of suspense: ${why}`,
        },
        lines.map((line) => ({
          account: line.account,
          provider: line.provider,
          debitMinor: line.creditMinor,
          creditMinor: line.debitMinor,
          currency: line.currency,
        })),
      );
    },

    // --- rates

    async adminRate(symbol: string, currency: string) {
      const [row] = await db
        .select()
        .from(cryptoTables.cryptoRates)
        .where(
          and(eq(cryptoTables.cryptoRates.symbol, symbol), eq(cryptoTables.cryptoRates.currency, currency)),
        );
      return row;
    },

    async setAdminRate(symbol: string, currency: string, rate: string, setBy: string): Promise<void> {
      await db
        .insert(cryptoTables.cryptoRates)
        .values({ symbol, currency, rate, setBy, setAt: new Date() })
        .onConflictDoUpdate({
          target: [cryptoTables.cryptoRates.symbol, cryptoTables.cryptoRates.currency],
          set: { rate, setBy, setAt: new Date() },
        });
    },
  };
}

export type CryptoStorage = ReturnType<typeof createCryptoStorage>;
