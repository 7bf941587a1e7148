import { asResult } from '@symbeon/kernel';
import type { PaymentsContext } from '../../context.js';
import type { PayPalManager } from './paypal-manager.js';

export function paypalResolvers(paypal: PayPalManager) {
  return {
    Mutation: {
      createPayPalOrder: (_: unknown, args: { orderId: string }, context: PaymentsContext) =>
        asResult(() => paypal.createPayPalOrder(context.principal, args.orderId)),
      capturePayPalOrder: (_: unknown, args: { orderId: string }, context: PaymentsContext) =>
        asResult(() => paypal.capturePayPalOrder(context.principal, args.orderId)),
    },
  };
}
