import type { PaymentsModule, PaymentsModuleDeps, PaymentsModuleFactory } from '../payments-module.js';
import { createWebhookEventsStorage } from '../stripe/webhook-events-storage.js';
import { webhookRoute } from '../stripe/webhook-route.js';
import { createPayPalClient } from './paypal-client.js';
import { createPayPalManager, type PayPalManager } from './paypal-manager.js';
import { paypalResolvers } from './paypal-resolvers.js';
import { createPayPalStorage } from './paypal-storage.js';

export const PAYPAL_WEBHOOK_PATH = '/webhooks/paypal';

// One manager (one cached OAuth token) per service, shared by this module and the card module's refundPayment.
const managers = new WeakMap<PaymentsModuleDeps, PayPalManager>();

export function paypalManagerFor(deps: PaymentsModuleDeps): PayPalManager {
  let manager = managers.get(deps);
  if (!manager) {
    manager = createPayPalManager({
      client: createPayPalClient({
        clientId: deps.env.PAYPAL_CLIENT_ID,
        clientSecret: deps.env.PAYPAL_CLIENT_SECRET,
        apiUrl: deps.env.PAYPAL_API_URL,
      }),
      webhookId: deps.env.PAYPAL_WEBHOOK_ID,
      orders: deps.orders,
      settlement: deps.settlement,
      storage: createPayPalStorage(deps.db),
      events: createWebhookEventsStorage(deps.db),
      publicUrl: deps.env.PAYMENTS_PUBLIC_URL,
      logger: deps.logger.child({ module: 'paypal' }),
    });
    managers.set(deps, manager);
  }
  return manager;
}

/**
 * PayPal Orders v2: createPayPalOrder, capturePayPalOrder and POST /webhooks/paypal. Without
 * PAYPAL_CLIENT_ID/SECRET the mutations answer PROVIDER_UNAVAILABLE and the webhook 503.
 */
export const paypalModule: PaymentsModuleFactory = (deps): PaymentsModule => {
  const manager = paypalManagerFor(deps);
  return {
    name: 'paypal',
    resolvers: paypalResolvers(manager),
    routes: {
      [PAYPAL_WEBHOOK_PATH]: webhookRoute(
        'PayPal',
        (raw, headers) => manager.handleWebhook(raw, headers),
        deps.logger.child({ module: 'paypal' }),
      ),
    },
  };
};
