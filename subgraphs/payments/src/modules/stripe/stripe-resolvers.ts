import { asResult, DomainError } from '@symbeon/kernel';
import type { PaymentsContext } from '../../context.js';
import { ProviderError } from './provider-ports.js';
import type { StripeManager } from './stripe-manager.js';

/** A provider's full refund of an order; undefined when that provider has no payment of the order. */
export type Refunder = (
  context: PaymentsContext,
  orderId: string,
  reason: string,
) => Promise<{ refundId: string; status: string } | undefined>;

/**
 * Card mutations, and refundPayment for whichever provider (card, then the others in `refunders`) took the
 * order's money.
 */
export function stripeResolvers(stripe: StripeManager, refunders: () => Refunder[]) {
  return {
    Mutation: {
      createCheckoutSession: (_: unknown, args: { orderId: string }, context: PaymentsContext) =>
        asResult(() => stripe.createCheckoutSession(context.principal, args.orderId)),
      createPaymentIntent: (_: unknown, args: { orderId: string }, context: PaymentsContext) =>
        asResult(() => stripe.createPaymentIntent(context.principal, args.orderId)),
      refundPayment: (_: unknown, args: { orderId: string; reason: string }, context: PaymentsContext) =>
        asResult(async () => {
          const reason = args.reason.trim();
          if (!reason || reason.length > 500)
            throw new DomainError('BAD_USER_INPUT', 'A reason of 1 to 500 characters is required', 'reason');
          const byCard: Refunder = (ctx, orderId, why) => stripe.refund(ctx.principal, orderId, why);
          for (const refund of [byCard, ...refunders()]) {
            const done = await refund(context, args.orderId, reason);
            if (done) {
              const order = await context.orders.get(args.orderId);
              return { refundId: done.refundId, refundStatus: done.status, order: order ?? null };
            }
          }
          throw new DomainError(
            ProviderError.NOTHING_TO_REFUND,
            'No card or PayPal payment of this order to refund',
            'orderId',
          );
        }),
    },
  };
}
