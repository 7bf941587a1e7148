import { asResult, codedError, DomainError, ErrorCode } from '@symbeon/kernel';
import type { PaymentsContext } from '../../context.js';
import type { PayPalManager } from '../paypal/paypal-manager.js';
import { isAdmin } from '../shared/access.js';
import { ProviderError } from './provider-ports.js';
import type { StripeManager } from './stripe-manager.js';
import type { WebhookEventsStorage } from './webhook-events-storage.js';

/**
 * Card mutations, and refundPayment for the card and PayPal payments settlement recorded on the order (by their
 * provider ids: the PaymentIntent, the PayPal capture).
 */
export function stripeResolvers(
  stripe: StripeManager,
  paypal: () => PayPalManager,
  events: WebhookEventsStorage,
) {
  return {
    Query: {
      providerEventsNeedingReview: async (
        _: unknown,
        args: { first?: number | null },
        context: PaymentsContext,
      ) => {
        if (!isAdmin(context.principal))
          throw codedError(ErrorCode.FORBIDDEN, 'Only administrators review provider events');
        return events.flagged(Math.min(Math.max(args.first ?? 50, 1), 200));
      },
    },
    Mutation: {
      createCheckoutSession: (_: unknown, args: { orderId: string }, context: PaymentsContext) =>
        asResult(() => stripe.createCheckoutSession(context.principal, args.orderId)),
      createPaymentIntent: (_: unknown, args: { orderId: string }, context: PaymentsContext) =>
        asResult(() => stripe.createPaymentIntent(context.principal, args.orderId)),
      refundPayment: (_: unknown, args: { orderId: string; reason: string }, context: PaymentsContext) =>
        asResult(async () => {
          if (!isAdmin(context.principal))
            throw new DomainError(ErrorCode.FORBIDDEN, 'Only administrators refund payments');
          const reason = args.reason.trim();
          if (!reason || reason.length > 500)
            throw new DomainError(
              ErrorCode.BAD_USER_INPUT,
              'A reason of 1 to 500 characters is required',
              'reason',
            );
          const order = await context.orders.get(args.orderId);
          if (!order) throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
          const payments = (await context.loaders.paymentsByOrder.load(order.id)).filter(
            (payment) => payment.provider === 'STRIPE' || payment.provider === 'PAYPAL',
          );
          if (payments.length === 0)
            throw new DomainError(
              ProviderError.NOTHING_TO_REFUND,
              'No card or PayPal payment of this order to refund',
              'orderId',
            );
          let last: { refundId: string; status: string } | undefined;
          for (const payment of payments) {
            last =
              payment.provider === 'STRIPE'
                ? await stripe.refundIntent(context.principal, order, payment.providerPaymentId, reason)
                : await paypal().refundCapture(context.principal, order, payment.providerPaymentId, reason);
          }
          return {
            refundId: last!.refundId,
            refundStatus: last!.status,
            order: (await context.orders.get(order.id)) ?? null,
          };
        }),
    },
  };
}
