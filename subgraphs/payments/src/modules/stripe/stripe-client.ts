import Stripe from 'stripe';

export type { Stripe };

export interface StripeSettings {
  secretKey: string | undefined;
  /** Base URL override (tests: a local server speaking the endpoints used); unset: api.stripe.com. */
  apiUrl?: string | undefined;
}

/**
 * The Stripe SDK configured from the env, or undefined when STRIPE_SECRET_KEY is unset (card payments are then
 * reported unavailable). Retries are safe: every POST carries an idempotency key.
 */
export function createStripeClient(settings: StripeSettings): Stripe | undefined {
  if (!settings.secretKey) return undefined;
  const base = settings.apiUrl ? new URL(settings.apiUrl) : undefined;
  return new Stripe(settings.secretKey, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    telemetry: false,
    appInfo: { name: 'symbeon-payments' },
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'http:' ? 80 : 443),
          protocol: base.protocol === 'http:' ? 'http' : 'https',
        }
      : {}),
  });
}
