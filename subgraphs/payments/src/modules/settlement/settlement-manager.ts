import { asResult, parseInput, type Logger, type Result } from '@symbeon/kernel';
import { z } from 'zod';
import type { OrderRow, Provider } from '../orders/orders-storage.js';
import { currencyField, positiveMinorField, uuidField } from '../shared/validation.js';
import type { InvoiceRow, PaymentRow, RefundRow, SettlementStorage } from './settlement-storage.js';

export type { Provider };
export { SettlementError } from './settlement-storage.js';

/**
 * THE settlement API of the provider modules (stripe, paypal, crypto). They verify that money really moved
 * (signature, re-fetch, confirmations) and then call:
 *
 *   settle({ orderId, provider, providerPaymentId, amountMinor, currency, receivedAt, details? })
 *   refund({ orderId, provider, providerRefundId, amountMinor, currency, reason? })
 *
 * Both are idempotent on (provider, provider id): a repeat returns duplicate=true and writes nothing, however
 * often and however concurrently it is reported. One call = one database transaction holding the payment
 * (or refund), its balanced ledger entries, the invoice (or credit note) with its gap-free number, the order's
 * status change and the outbox event (payments.PaymentSettled / payments.PaymentRefunded).
 *
 * Amounts are bigint minor units in the ORDER's currency (a crypto payment is converted at its quote's rate by
 * the crypto module; the token amount goes in `details`, and `details.token` names the cash account
 * cash:crypto:<token>). What a payment does to its order:
 *   PENDING/UNDERPAID + enough received   → PAID (exact) or OVERPAID (more), invoice, PaymentSettled
 *   PENDING/UNDERPAID + not enough        → UNDERPAID (the money waits in customer-deposits)
 *   PAID/OVERPAID                         → OVERPAID (excess kept on deposit until refunded)
 *   CANCELLED/EXPIRED/REFUNDED (late)     → recorded and booked, order unchanged, outcome LATE for an admin
 * Expected failures are `{ ok: false, error: { code, message, field } }` and change nothing: BAD_USER_INPUT,
 * NOT_FOUND (order), CURRENCY_MISMATCH, REFUND_EXCEEDS_PAYMENTS (more than was received through that provider
 * for the order and not yet refunded: money goes back the way it came).
 */
export interface SettleInput {
  orderId: string;
  provider: Provider;
  providerPaymentId: string;
  amountMinor: bigint;
  currency: string;
  receivedAt: Date;
  details?: Record<string, unknown>;
}

export interface RefundInput {
  orderId: string;
  provider: Provider;
  providerRefundId: string;
  amountMinor: bigint;
  currency: string;
  reason?: string;
  /** As in settle: `details.token` names the crypto cash account credited (cash:crypto:<token>). */
  details?: Record<string, unknown>;
}

export interface Settled {
  order: OrderRow;
  payment: PaymentRow;
  /** The order's invoice once it is paid (null while underpaid, and for late payments). */
  invoice: InvoiceRow | null;
  duplicate: boolean;
}

export interface Refunded {
  order: OrderRow;
  refund: RefundRow;
  /** Null when the refund only returned money paid beyond the invoice (or without one). */
  creditNote: InvoiceRow | null;
  duplicate: boolean;
}

const provider = z.enum(['STRIPE', 'PAYPAL', 'CRYPTO']);
const providerId = z.string().trim().min(1).max(255);

const settleSchema = z.object({
  orderId: uuidField,
  provider,
  providerPaymentId: providerId,
  amountMinor: positiveMinorField,
  currency: currencyField,
  receivedAt: z.date(),
  details: z.record(z.string(), z.unknown()).optional(),
});

const refundSchema = z.object({
  orderId: uuidField,
  provider,
  providerRefundId: providerId,
  amountMinor: positiveMinorField,
  currency: currencyField,
  reason: z.string().trim().max(500).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export interface SettlementManagerDeps {
  storage: SettlementStorage;
  /** Renders and stores a document's PDF after its transaction commits (see invoices-manager.ts). */
  renderPdf: (invoice: InvoiceRow) => Promise<unknown>;
  logger: Logger;
}

export function createSettlementManager(deps: SettlementManagerDeps) {
  const { storage, logger } = deps;

  // The PDF is made after the commit, outside the counter's lock; a failure is logged and the document is
  // rendered again on its first download.
  const renderLater = (invoice: InvoiceRow | null) => {
    if (!invoice || invoice.pdfCid) return;
    deps.renderPdf(invoice).catch((error: unknown) => {
      logger.error({ err: error, invoiceId: invoice.id }, 'invoice PDF not rendered; it will be on download');
    });
  };

  return {
    async settle(input: SettleInput): Promise<Result<Settled>> {
      return asResult(async () => {
        const parsed = parseInput(settleSchema, input);
        const result = await storage.settle({ ...parsed, details: parsed.details ?? {} });
        if (!result.duplicate) {
          logger.info(
            { orderId: result.order.id, paymentId: result.payment.id, outcome: result.payment.outcome },
            'payment settled',
          );
          if (result.invoice && result.invoice.sourceId === result.payment.id) renderLater(result.invoice);
        }
        return result;
      });
    },

    async refund(input: RefundInput): Promise<Result<Refunded>> {
      return asResult(async () => {
        const parsed = parseInput(refundSchema, input);
        const result = await storage.refund({
          ...parsed,
          reason: parsed.reason ?? null,
          details: parsed.details ?? {},
        });
        if (!result.duplicate) {
          logger.info({ orderId: result.order.id, refundId: result.refund.id }, 'refund recorded');
          renderLater(result.creditNote);
        }
        return result;
      });
    },
  };
}

export type SettlementManager = ReturnType<typeof createSettlementManager>;
