import { and, eq, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { DomainError, ErrorCode, recordEvent } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import { Account, credit, debit, type LedgerLine } from '../ledger/accounts.js';
import { splitGross, vatLabel } from '../invoices/tax.js';
import {
  lockOrder,
  moveOrder,
  type Executor,
  type OrderRow,
  type PaymentsDb,
  type Provider,
} from '../orders/orders-storage.js';

export type PaymentRow = typeof schema.paymentsTable.$inferSelect;
export type RefundRow = typeof schema.refunds.$inferSelect;
export type InvoiceRow = typeof schema.invoices.$inferSelect;
export type PaymentOutcome = PaymentRow['outcome'];

const tables = { outbox: schema.outbox, processedEvents: schema.processedEvents };

/** Events payments publishes (the contract other subgraphs consume; they never import this file). */
export const PaymentSettled = 'payments.PaymentSettled';
export const PaymentRefunded = 'payments.PaymentRefunded';

export interface PaymentSettledPayload {
  orderId: string;
  buyerId: string;
  item: { type: string; id: string };
  /** The order's price, minor units as a decimal string. */
  amountMinor: string;
  /** Everything received for the order so far (≥ amountMinor; more when overpaid). */
  paidMinor: string;
  currency: string;
  provider: Provider;
  paymentId: string;
  invoiceNumber: string;
  settledAt: string;
}

export interface PaymentRefundedPayload {
  orderId: string;
  buyerId: string;
  item: { type: string; id: string };
  amountMinor: string;
  currency: string;
  provider: Provider;
  refundId: string;
  creditNoteNumber: string | null;
  orderStatus: OrderRow['status'];
  refundedAt: string;
}

export interface SettlementConfig {
  vatRateBps: number;
  invoicePrefix: string;
  seller: schema.InvoiceParty;
  now?: () => Date;
}

export interface SettleRecord {
  orderId: string;
  provider: Provider;
  providerPaymentId: string;
  amountMinor: bigint;
  currency: string;
  receivedAt: Date;
  details: Record<string, unknown>;
}

export interface RefundRecord {
  orderId: string;
  provider: Provider;
  providerRefundId: string;
  amountMinor: bigint;
  currency: string;
  reason: string | null;
  /** Names the cash account like the payment's (details.token → cash:crypto:<token>); not stored. */
  details: Record<string, unknown>;
}

/** Error codes of settle and refund beyond BAD_USER_INPUT and NOT_FOUND. */
export const SettlementError = {
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
  REFUND_EXCEEDS_PAYMENTS: 'REFUND_EXCEEDS_PAYMENTS',
  DUPLICATE_REFERENCE: 'DUPLICATE_REFERENCE',
} as const;

/** The next number of a series, gap-free: the row stays locked until the issuing transaction ends. */
async function nextInSeries(tx: Executor, series: string): Promise<number> {
  const [row] = await tx
    .insert(schema.documentCounters)
    .values({ series, lastNumber: 1 })
    .onConflictDoUpdate({
      target: schema.documentCounters.series,
      set: { lastNumber: sql`${schema.documentCounters.lastNumber} + 1` },
    })
    .returning({ lastNumber: schema.documentCounters.lastNumber });
  if (!row) throw new Error(`no number for series ${series}`);
  return row.lastNumber;
}

export const documentNumber = (series: string, sequence: number) =>
  `${series}-${String(sequence).padStart(6, '0')}`;

async function book(
  tx: Executor,
  entry: {
    kind: (typeof schema.journalEntries.$inferInsert)['kind'];
    orderId: string;
    sourceId: string;
    memo: string;
  },
  lines: LedgerLine[],
): Promise<void> {
  const nonZero = lines.filter((line) => line.debitMinor !== 0n || line.creditMinor !== 0n);
  const [row] = await tx
    .insert(schema.journalEntries)
    .values(entry)
    .returning({ id: schema.journalEntries.id });
  if (!row) throw new Error('journal entry not written');
  await tx.insert(schema.journalLines).values(nonZero.map((line) => ({ ...line, entryId: row.id })));
}

async function buyerParty(tx: Executor, buyerId: string): Promise<schema.InvoiceParty> {
  const [known] = await tx.select().from(schema.knownUsers).where(eq(schema.knownUsers.userId, buyerId));
  return { name: known ? `@${known.handle}` : `Customer ${buyerId}`, addressLines: [], userId: buyerId };
}

const sumOf = (column: AnyPgColumn) => sql<string>`coalesce(sum(${column}), 0)::text`;

async function orderTotals(tx: Executor, orderId: string) {
  const [received] = await tx
    .select({ total: sumOf(schema.paymentsTable.amountMinor) })
    .from(schema.paymentsTable)
    .where(eq(schema.paymentsTable.orderId, orderId));
  const [refunded] = await tx
    .select({ total: sumOf(schema.refunds.amountMinor) })
    .from(schema.refunds)
    .where(eq(schema.refunds.orderId, orderId));
  const [credited] = await tx
    .select({ total: sumOf(schema.invoices.totalMinor) })
    .from(schema.invoices)
    .where(and(eq(schema.invoices.orderId, orderId), eq(schema.invoices.kind, 'CREDIT_NOTE')));
  return {
    received: BigInt(received?.total ?? '0'),
    refunded: BigInt(refunded?.total ?? '0'),
    credited: BigInt(credited?.total ?? '0'),
  };
}

/** What went in and out of an order through one provider: a refund goes back the way the money came. */
async function providerTotals(tx: Executor, orderId: string, provider: Provider) {
  const [received] = await tx
    .select({ total: sumOf(schema.paymentsTable.amountMinor) })
    .from(schema.paymentsTable)
    .where(and(eq(schema.paymentsTable.orderId, orderId), eq(schema.paymentsTable.provider, provider)));
  const [refunded] = await tx
    .select({ total: sumOf(schema.refunds.amountMinor) })
    .from(schema.refunds)
    .where(and(eq(schema.refunds.orderId, orderId), eq(schema.refunds.provider, provider)));
  return BigInt(received?.total ?? '0') - BigInt(refunded?.total ?? '0');
}

async function orderInvoice(tx: Executor, orderId: string): Promise<InvoiceRow | undefined> {
  const [row] = await tx
    .select()
    .from(schema.invoices)
    .where(and(eq(schema.invoices.orderId, orderId), eq(schema.invoices.kind, 'INVOICE')));
  return row;
}

async function existingPayment(tx: Executor, provider: Provider, providerPaymentId: string) {
  const [row] = await tx
    .select()
    .from(schema.paymentsTable)
    .where(
      and(
        eq(schema.paymentsTable.provider, provider),
        eq(schema.paymentsTable.providerPaymentId, providerPaymentId),
      ),
    );
  return row;
}

async function existingRefund(tx: Executor, provider: Provider, providerRefundId: string) {
  const [row] = await tx
    .select()
    .from(schema.refunds)
    .where(and(eq(schema.refunds.provider, provider), eq(schema.refunds.providerRefundId, providerRefundId)));
  return row;
}

export interface SettleOutcome {
  order: OrderRow;
  payment: PaymentRow;
  invoice: InvoiceRow | null;
  duplicate: boolean;
}

export interface RefundOutcome {
  order: OrderRow;
  refund: RefundRow;
  creditNote: InvoiceRow | null;
  duplicate: boolean;
}

/** A unique index lost a race with a concurrent transaction: the caller re-runs and finds the winner's row. */
class LostRace extends Error {}

/** The settlement and refund transactions: payment, ledger, invoice, status and event commit together. */
export function createSettlementStorage(db: PaymentsDb, config: SettlementConfig) {
  const now = config.now ?? (() => new Date());

  async function duplicateOfPayment(tx: Executor, payment: PaymentRow): Promise<SettleOutcome> {
    const [order] = await tx.select().from(schema.orders).where(eq(schema.orders.id, payment.orderId));
    if (!order) throw new Error(`payment ${payment.id} without its order`);
    return { order, payment, invoice: (await orderInvoice(tx, order.id)) ?? null, duplicate: true };
  }

  async function settleOnce(record: SettleRecord): Promise<SettleOutcome> {
    return db.transaction(async (tx) => {
      const known = await existingPayment(tx, record.provider, record.providerPaymentId);
      if (known) return duplicateOfPayment(tx, known);
      const order = await lockOrder(tx, record.orderId);
      if (!order) throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
      if (order.currency !== record.currency)
        throw new DomainError(
          SettlementError.CURRENCY_MISMATCH,
          `The order is in ${order.currency}, the payment in ${record.currency}`,
          'currency',
        );
      // The same payment reported concurrently for the same order waited on the lock above.
      const raced = await existingPayment(tx, record.provider, record.providerPaymentId);
      if (raced) return duplicateOfPayment(tx, raced);

      const totals = await orderTotals(tx, order.id);
      const appliedBefore = totals.received - totals.refunded;
      const open = order.status === 'PENDING' || order.status === 'UNDERPAID';
      const paid = order.status === 'PAID' || order.status === 'OVERPAID';
      const outcome: PaymentOutcome = open
        ? appliedBefore + record.amountMinor >= order.amountMinor
          ? 'SETTLED'
          : 'PARTIAL'
        : paid
          ? 'EXCESS'
          : 'LATE';

      const [payment] = await tx
        .insert(schema.paymentsTable)
        .values({ ...record, buyerId: order.buyerId, outcome })
        .onConflictDoNothing()
        .returning();
      if (!payment) throw new LostRace();
      await book(
        tx,
        {
          kind: 'PAYMENT',
          orderId: order.id,
          sourceId: payment.id,
          memo: `${record.provider} payment ${record.providerPaymentId} (${outcome.toLowerCase()})`,
        },
        [
          debit(
            Account.cash(record.provider, record.details),
            record.amountMinor,
            order.currency,
            record.provider,
          ),
          credit(Account.customerDeposits, record.amountMinor, order.currency),
        ],
      );

      let current = order;
      let invoice: InvoiceRow | null = null;
      if (outcome === 'SETTLED') {
        const issuedAt = now();
        const series = `${config.invoicePrefix}-${issuedAt.getUTCFullYear()}`;
        const sequence = await nextInSeries(tx, series);
        const { netMinor, taxMinor } = splitGross(order.amountMinor, config.vatRateBps);
        const [issued] = await tx
          .insert(schema.invoices)
          .values({
            kind: 'INVOICE',
            series,
            sequence,
            number: documentNumber(series, sequence),
            orderId: order.id,
            buyerId: order.buyerId,
            sourceId: payment.id,
            issuedAt,
            currency: order.currency,
            netMinor,
            taxMinor,
            totalMinor: order.amountMinor,
            lines: [
              {
                description: `Certification programme: ${order.itemName}`,
                quantity: 1,
                unitNetMinor: netMinor.toString(),
                netMinor: netMinor.toString(),
              },
            ],
            taxLines: [
              {
                label: vatLabel(config.vatRateBps),
                rateBps: config.vatRateBps,
                baseMinor: netMinor.toString(),
                taxMinor: taxMinor.toString(),
              },
            ],
            seller: config.seller,
            buyer: await buyerParty(tx, order.buyerId),
          })
          .returning();
        if (!issued) throw new Error('invoice not written');
        invoice = issued;
        await book(
          tx,
          { kind: 'INVOICE', orderId: order.id, sourceId: issued.id, memo: `invoice ${issued.number}` },
          [
            debit(Account.customerDeposits, order.amountMinor, order.currency),
            credit(Account.revenue(order.itemType), netMinor, order.currency),
            credit(Account.vatPayable, taxMinor, order.currency),
          ],
        );
        const paidMinor = appliedBefore + record.amountMinor;
        current = await moveOrder(
          tx,
          order,
          paidMinor > order.amountMinor ? 'OVERPAID' : 'PAID',
          `${record.provider} payment ${record.providerPaymentId}`,
        );
        await recordEvent<PaymentSettledPayload>(tx, tables, PaymentSettled, {
          orderId: order.id,
          buyerId: order.buyerId,
          item: { type: order.itemType, id: order.itemId },
          amountMinor: order.amountMinor.toString(),
          paidMinor: paidMinor.toString(),
          currency: order.currency,
          provider: record.provider,
          paymentId: payment.id,
          invoiceNumber: issued.number,
          settledAt: issuedAt.toISOString(),
        });
      } else if (outcome === 'PARTIAL') {
        current = await moveOrder(
          tx,
          order,
          'UNDERPAID',
          `${record.provider} payment ${record.providerPaymentId}`,
        );
      } else if (outcome === 'EXCESS') {
        current = await moveOrder(
          tx,
          order,
          'OVERPAID',
          `${record.provider} payment ${record.providerPaymentId}`,
        );
        invoice = (await orderInvoice(tx, order.id)) ?? null;
      }
      return { order: current, payment, invoice, duplicate: false };
    });
  }

  async function duplicateOfRefund(tx: Executor, refund: RefundRow): Promise<RefundOutcome> {
    const [order] = await tx.select().from(schema.orders).where(eq(schema.orders.id, refund.orderId));
    if (!order) throw new Error(`refund ${refund.id} without its order`);
    const [creditNote] = await tx
      .select()
      .from(schema.invoices)
      .where(and(eq(schema.invoices.kind, 'CREDIT_NOTE'), eq(schema.invoices.sourceId, refund.id)));
    return { order, refund, creditNote: creditNote ?? null, duplicate: true };
  }

  async function refundOnce(record: RefundRecord): Promise<RefundOutcome> {
    return db.transaction(async (tx) => {
      const known = await existingRefund(tx, record.provider, record.providerRefundId);
      if (known) return duplicateOfRefund(tx, known);
      const order = await lockOrder(tx, record.orderId);
      if (!order) throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
      if (order.currency !== record.currency)
        throw new DomainError(
          SettlementError.CURRENCY_MISMATCH,
          `The order is in ${order.currency}, the refund in ${record.currency}`,
          'currency',
        );
      const raced = await existingRefund(tx, record.provider, record.providerRefundId);
      if (raced) return duplicateOfRefund(tx, raced);

      const totals = await orderTotals(tx, order.id);
      const invoice = await orderInvoice(tx, order.id);
      const invoiced = invoice?.totalMinor ?? 0n;
      const refundable = await providerTotals(tx, order.id, record.provider);
      if (record.amountMinor > refundable)
        throw new DomainError(
          SettlementError.REFUND_EXCEEDS_PAYMENTS,
          `Only ${refundable} ${order.currency} minor units received through ${record.provider} and not yet refunded`,
          'amountMinor',
        );
      // What the buyer has on deposit (paid beyond the invoice, or paid without one) is refunded first;
      // only the rest reverses revenue, with a credit note.
      const deposit = totals.received - invoiced + totals.credited - totals.refunded;
      const fromDeposit = record.amountMinor < deposit ? record.amountMinor : deposit > 0n ? deposit : 0n;
      const fromInvoice = record.amountMinor - fromDeposit;

      const { details, ...refundRow } = record;
      const [refund] = await tx.insert(schema.refunds).values(refundRow).onConflictDoNothing().returning();
      if (!refund) throw new LostRace();

      let creditNote: InvoiceRow | null = null;
      if (fromInvoice > 0n && invoice) {
        const issuedAt = now();
        const series = `${config.invoicePrefix}-CN-${issuedAt.getUTCFullYear()}`;
        const sequence = await nextInSeries(tx, series);
        const rateBps = invoice.taxLines[0]?.rateBps ?? 0;
        const { netMinor, taxMinor } = splitGross(fromInvoice, rateBps);
        const [issued] = await tx
          .insert(schema.invoices)
          .values({
            kind: 'CREDIT_NOTE',
            series,
            sequence,
            number: documentNumber(series, sequence),
            orderId: order.id,
            buyerId: order.buyerId,
            creditsInvoiceId: invoice.id,
            sourceId: refund.id,
            issuedAt,
            currency: order.currency,
            netMinor,
            taxMinor,
            totalMinor: fromInvoice,
            lines: [
              {
                description: `Refund for invoice ${invoice.number}: ${order.itemName}`,
                quantity: 1,
                unitNetMinor: netMinor.toString(),
                netMinor: netMinor.toString(),
              },
            ],
            taxLines: [
              {
                label: vatLabel(rateBps),
                rateBps,
                baseMinor: netMinor.toString(),
                taxMinor: taxMinor.toString(),
              },
            ],
            seller: invoice.seller,
            buyer: invoice.buyer,
          })
          .returning();
        if (!issued) throw new Error('credit note not written');
        creditNote = issued;
        await book(
          tx,
          {
            kind: 'CREDIT_NOTE',
            orderId: order.id,
            sourceId: issued.id,
            memo: `credit note ${issued.number}`,
          },
          [
            debit(Account.refunds, netMinor, order.currency),
            debit(Account.vatPayable, taxMinor, order.currency),
            credit(Account.customerDeposits, fromInvoice, order.currency),
          ],
        );
      }
      await book(
        tx,
        {
          kind: 'REFUND',
          orderId: order.id,
          sourceId: refund.id,
          memo: `${record.provider} refund ${record.providerRefundId}`,
        },
        [
          debit(Account.customerDeposits, record.amountMinor, order.currency),
          credit(Account.cash(record.provider, details), record.amountMinor, order.currency, record.provider),
        ],
      );

      let current = order;
      const creditedAfter = totals.credited + (creditNote?.totalMinor ?? 0n);
      const depositAfter = deposit - fromDeposit;
      if (invoice && creditedAfter >= invoiced) {
        current = await moveOrder(tx, order, 'REFUNDED', record.reason ?? `${record.provider} refund`);
      } else if (order.status === 'OVERPAID' && depositAfter <= 0n) {
        current = await moveOrder(tx, order, 'PAID', 'the excess was refunded');
      }
      const refundedAt = now();
      await recordEvent<PaymentRefundedPayload>(tx, tables, PaymentRefunded, {
        orderId: order.id,
        buyerId: order.buyerId,
        item: { type: order.itemType, id: order.itemId },
        amountMinor: record.amountMinor.toString(),
        currency: order.currency,
        provider: record.provider,
        refundId: refund.id,
        creditNoteNumber: creditNote?.number ?? null,
        orderStatus: current.status,
        refundedAt: refundedAt.toISOString(),
      });
      return { order: current, refund, creditNote, duplicate: false };
    });
  }

  /** Re-runs once after losing a unique-index race: the second run finds the winner's row (duplicate). */
  async function retryOnRace<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof LostRace) return run();
      throw error;
    }
  }

  return {
    settle: (record: SettleRecord) => retryOnRace(() => settleOnce(record)),
    refund: (record: RefundRecord) => retryOnRace(() => refundOnce(record)),
  };
}

export type SettlementStorage = ReturnType<typeof createSettlementStorage>;
