import { asResult } from '@symbeon/kernel';
import type { PaymentsContext } from '../../context.js';
import type { CryptoManager } from './crypto-manager.js';
import type { CryptoPaymentRow, CryptoQuoteRow } from './crypto-storage.js';

const presentPayment = (row: CryptoPaymentRow) => ({
  ...row,
  creditedMinor: row.creditedMinor?.toString() ?? null,
});

/** Thin: the manager holds the rules and the caller checks. */
export function cryptoResolvers(crypto: CryptoManager) {
  const quote = async (row: CryptoQuoteRow | null) => (row ? crypto.present(row) : null);
  return {
    Order: {
      cryptoQuote: async (order: { id: string; buyerId: string }, _: unknown, context: PaymentsContext) =>
        quote(await crypto.quoteOf(context.principal, order)),
    },
    Query: {
      cryptoPaymentsNeedingReview: async (
        _: unknown,
        args: { first?: number | null },
        context: PaymentsContext,
      ) => (await crypto.needingReview(context.principal, args.first ?? 50)).map(presentPayment),
    },
    Mutation: {
      createCryptoQuote: (
        _: unknown,
        args: { orderId: string; token?: string | null },
        context: PaymentsContext,
      ) =>
        asResult(async () => ({
          quote: await quote(await crypto.createQuote(context.principal, args.orderId, args.token)),
        })),
      resolveCryptoPayment: (
        _: unknown,
        args: { id: string; action: 'ACCEPT' | 'REFUND' | 'DISMISS'; note?: string | null },
        context: PaymentsContext,
      ) =>
        asResult(async () => ({
          payment: presentPayment(await crypto.resolve(context.principal, args.id, args.action, args.note)),
        })),
      refundCryptoExcess: (
        _: unknown,
        args: { orderId: string; reason?: string | null },
        context: PaymentsContext,
      ) =>
        asResult(async () => {
          const refunded = await crypto.refundExcess(context.principal, args.orderId, args.reason);
          return { ...refunded, quote: await quote(refunded.quote) };
        }),
      setCryptoRate: (
        _: unknown,
        args: { symbol: string; currency: string; rate: string },
        context: PaymentsContext,
      ) => asResult(() => crypto.setRate(context.principal, args.symbol, args.currency, args.rate)),
    },
  };
}
