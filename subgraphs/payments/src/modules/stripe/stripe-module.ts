import type { PaymentsModule, PaymentsModuleFactory } from '../payments-module.js';
import { paypalManagerFor } from '../paypal/paypal-module.js';
import { createStripeClient } from './stripe-client.js';
import { createStripeManager } from './stripe-manager.js';
import { stripeResolvers } from './stripe-resolvers.js';
import { createStripeStorage } from './stripe-storage.js';
import { createWebhookEventsStorage } from './webhook-events-storage.js';
import { webhookRoute } from './webhook-route.js';

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';

/**
 * Card payments (Stripe): createCheckoutSession, createPaymentIntent, refundPayment (card or PayPal) and
 * POST /webhooks/stripe. Without STRIPE_SECRET_KEY the mutations answer PROVIDER_UNAVAILABLE and the webhook 503.
 */
export const stripeModule: PaymentsModuleFactory = (deps): PaymentsModule => {
  const logger = deps.logger.child({ module: 'stripe' });
  const events = createWebhookEventsStorage(deps.db);
  const manager = createStripeManager({
    stripe: createStripeClient({ secretKey: deps.env.STRIPE_SECRET_KEY, apiUrl: deps.env.STRIPE_API_URL }),
    webhookSecret: deps.env.STRIPE_WEBHOOK_SECRET,
    orders: deps.orders,
    settlement: deps.settlement,
    storage: createStripeStorage(deps.db),
    events,
    publicUrl: deps.env.PAYMENTS_PUBLIC_URL,
    logger,
  });
  if (deps.env.STRIPE_SECRET_KEY && !deps.env.STRIPE_WEBHOOK_SECRET)
    logger.warn('STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: card payments will never settle');
  return {
    name: 'stripe',
    resolvers: stripeResolvers(manager, () => paypalManagerFor(deps), events),
    routes: {
      [STRIPE_WEBHOOK_PATH]: webhookRoute(
        'Stripe',
        (raw, headers) => manager.handleWebhook(raw, headers['stripe-signature'] as string | undefined),
        logger,
      ),
    },
  };
};
