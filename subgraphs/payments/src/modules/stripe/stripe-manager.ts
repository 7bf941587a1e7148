import { DomainError, ErrorCode, type Principal } from '@symbeon/kernel';
import Stripe from 'stripe';
import type { OrderRow } from '../orders/orders-manager.js';
import { isAdmin } from '../shared/access.js';
import { payableOrderOf, ProviderError, unavailable, type ProviderPorts } from './provider-ports.js';
import type { StripeStorage } from './stripe-storage.js';
import type { WebhookEventsStorage, WebhookOutcome } from './webhook-events-storage.js';
import type { WebhookAnswer } from './webhook-route.js';

export interface StripeManagerOptions extends ProviderPorts {
  /** Undefined when STRIPE_SECRET_KEY is unset: card payments are unavailable. */
  stripe: Stripe | undefined;
  webhookSecret: string | undefined;
  storage: StripeStorage;
  events: WebhookEventsStorage;
  /** The web app's origin: where Stripe sends the buyer back. */
  publicUrl: string;
  /** How old a signed webhook may be (Stripe's default: 300 s), against replays. */
  toleranceSeconds?: number;
}

type Handled = { outcome: WebhookOutcome; detail?: string };

const idOf = (value: string | { id: string } | null | undefined) =>
  typeof value === 'string' ? value : value?.id;

/**
 * Card payments through Stripe: Checkout Sessions (and PaymentIntents for custom flows) created with
 * idempotency keys derived from the order, the signed webhook, refunds. Money moves only through settlement,
 * and only after Stripe itself (not the webhook's payload) says the payment succeeded for the order's amount.
 */
export function createStripeManager(options: StripeManagerOptions) {
  const { stripe, orders, settlement, storage, events, logger } = options;
  const publicUrl = options.publicUrl.replace(/\/+$/, '');

  const client = (): Stripe => {
    if (!stripe) throw unavailable('Card');
    return stripe;
  };

  /** A Stripe failure as a coded refusal (the caller may retry), logged with Stripe's request id. */
  async function call<T>(what: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      if (!(error instanceof Stripe.errors.StripeError)) throw error;
      logger.warn(
        { err: error, stripeRequestId: error.requestId, code: error.code, status: error.statusCode },
        `Stripe ${what} failed`,
      );
      throw new DomainError(
        ProviderError.PROVIDER_ERROR,
        `The card payment provider failed: ${error.message}`,
      );
    }
  }

  /** Settles the order when what Stripe reports received is exactly the order's price; flags it otherwise. */
  async function settleIfExact(
    order: OrderRow,
    payment: { intentId: string; amount: number | null; currency: string | null; receivedAt: Date },
    details: Record<string, unknown>,
  ): Promise<Handled> {
    const currency = (payment.currency ?? '').toUpperCase();
    if (
      payment.amount === null ||
      BigInt(payment.amount) !== order.amountMinor ||
      currency !== order.currency
    ) {
      const detail = `Stripe reports ${payment.amount ?? '?'} ${currency || '?'} for order ${order.id}, which costs ${order.amountMinor} ${order.currency}`;
      logger.warn({ orderId: order.id, paymentIntent: payment.intentId }, `payment flagged: ${detail}`);
      return { outcome: 'FLAGGED', detail };
    }
    const result = await settlement.settle({
      orderId: order.id,
      provider: 'STRIPE',
      providerPaymentId: payment.intentId,
      amountMinor: order.amountMinor,
      currency: order.currency,
      receivedAt: payment.receivedAt,
      details,
    });
    if (!result.ok) return { outcome: 'FLAGGED', detail: `${result.error.code}: ${result.error.message}` };
    return { outcome: result.duplicate ? 'DUPLICATE' : 'SETTLED' };
  }

  async function settleSession(session: Stripe.Checkout.Session, receivedAt: Date): Promise<Handled> {
    // Only sessions this platform created name an order: the reference, not the payload, decides which.
    const order = await orders.findByProviderRef('STRIPE', session.id);
    if (!order) return { outcome: 'UNKNOWN_ORDER', detail: `no order for session ${session.id}` };
    if (session.payment_status !== 'paid') return { outcome: 'NOT_PAID', detail: session.payment_status };
    const intentId = idOf(session.payment_intent);
    if (!intentId) return { outcome: 'FLAGGED', detail: `paid session ${session.id} has no payment intent` };
    return settleIfExact(
      order,
      { intentId, amount: session.amount_total, currency: session.currency, receivedAt },
      { checkoutSessionId: session.id },
    );
  }

  async function settleIntent(intentId: string, receivedAt: Date): Promise<Handled> {
    const intent = await stripe!.paymentIntents.retrieve(intentId);
    const order = await orders.get(intent.metadata.orderId ?? '');
    if (!order) return { outcome: 'UNKNOWN_ORDER', detail: `no order for payment intent ${intent.id}` };
    if (intent.status !== 'succeeded') return { outcome: 'NOT_PAID', detail: intent.status };
    return settleIfExact(
      order,
      { intentId: intent.id, amount: intent.amount_received, currency: intent.currency, receivedAt },
      { paymentIntentId: intent.id },
    );
  }

  /** Books every succeeded refund of a payment intent once (settlement is idempotent per refund id). */
  async function syncRefunds(intentId: string): Promise<Handled> {
    const intent = await stripe!.paymentIntents.retrieve(intentId);
    const order = await orders.get(intent.metadata.orderId ?? '');
    if (!order) return { outcome: 'UNKNOWN_ORDER', detail: `no order for payment intent ${intent.id}` };
    const refunds = await stripe!.refunds.list({ payment_intent: intent.id, limit: 100 });
    let booked = 0;
    for (const refund of refunds.data) {
      if (refund.status !== 'succeeded') continue;
      const result = await settlement.refund({
        orderId: order.id,
        provider: 'STRIPE',
        providerRefundId: refund.id,
        amountMinor: BigInt(refund.amount),
        currency: refund.currency.toUpperCase(),
        reason: refund.metadata?.reason ?? refund.reason ?? 'refunded through Stripe',
      });
      if (!result.ok) return { outcome: 'FLAGGED', detail: `${result.error.code}: ${result.error.message}` };
      if (!result.duplicate) booked += 1;
    }
    return booked > 0 ? { outcome: 'REFUNDED' } : { outcome: 'DUPLICATE' };
  }

  /**
   * Refunds a PaymentIntent in full, once (the idempotency key names the order and the intent). Booked now when
   * Stripe reports it succeeded, else by the `charge.refunded` webhook.
   */
  async function refundIntent(order: OrderRow, intentId: string, reason: string) {
    const api = client();
    const refund = await call('refund', () =>
      api.refunds.create(
        {
          payment_intent: intentId,
          reason: 'requested_by_customer',
          metadata: { orderId: order.id, reason },
        },
        { idempotencyKey: `symbeon-refund-${order.id}-${intentId}` },
      ),
    );
    if (refund.status === 'succeeded') {
      const booked = await settlement.refund({
        orderId: order.id,
        provider: 'STRIPE',
        providerRefundId: refund.id,
        amountMinor: BigInt(refund.amount),
        currency: refund.currency.toUpperCase(),
        reason,
      });
      if (!booked.ok) throw new DomainError(booked.error.code, booked.error.message, 'orderId');
    }
    return { refundId: refund.id, status: refund.status ?? 'pending' };
  }

  async function dispatch(event: Stripe.Event): Promise<Handled> {
    const receivedAt = new Date(event.created * 1000);
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        const session = await stripe!.checkout.sessions.retrieve(event.data.object.id);
        return settleSession(session, receivedAt);
      }
      case 'payment_intent.succeeded':
        return settleIntent(event.data.object.id, receivedAt);
      case 'charge.refunded': {
        const charge = await stripe!.charges.retrieve(event.data.object.id);
        const intentId = idOf(charge.payment_intent);
        return intentId ? syncRefunds(intentId) : { outcome: 'IGNORED', detail: 'charge without intent' };
      }
      default:
        return { outcome: 'IGNORED' };
    }
  }

  return {
    available: () => stripe !== undefined,

    /**
     * The buyer's Checkout Session for a PENDING order: the open one if there is one, else a new one (after the
     * last expired), created with the idempotency key `symbeon-checkout-<order>-<attempt>` so that concurrent
     * or retried calls get the same session.
     */
    async createCheckoutSession(principal: Principal, orderId: string) {
      const api = client();
      const order = await payableOrderOf(orders, principal, orderId);
      const [latest] = await storage.sessionsOf(order.id);
      if (latest) {
        const session = await call('session retrieval', () =>
          api.checkout.sessions.retrieve(latest.sessionId),
        );
        if (session.status === 'open' && session.url) return { url: session.url, sessionId: session.id };
        if (session.status === 'complete') {
          // Paid on Stripe but the webhook is late or lost: settle now from what Stripe says.
          const handled = await settleSession(session, new Date());
          throw new DomainError(
            handled.outcome === 'SETTLED' || handled.outcome === 'DUPLICATE'
              ? ProviderError.ORDER_ALREADY_PAID
              : ProviderError.PAYMENT_PENDING,
            handled.outcome === 'SETTLED' || handled.outcome === 'DUPLICATE'
              ? 'This order is paid already'
              : 'A card payment for this order is being confirmed',
            'orderId',
          );
        }
      }
      const attempt = (latest?.attempt ?? 0) + 1;
      const returnUrl = `${publicUrl}/orders/${order.id}`;
      const session = await call('session creation', () =>
        api.checkout.sessions.create(
          {
            mode: 'payment',
            line_items: [
              {
                quantity: 1,
                price_data: {
                  currency: order.currency.toLowerCase(),
                  unit_amount: Number(order.amountMinor),
                  product_data: { name: order.itemName },
                },
              },
            ],
            client_reference_id: order.id,
            metadata: { orderId: order.id },
            payment_intent_data: { metadata: { orderId: order.id } },
            success_url: `${returnUrl}?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
            cancel_url: `${returnUrl}?checkout=cancelled`,
          },
          { idempotencyKey: `symbeon-checkout-${order.id}-${attempt}` },
        ),
      );
      if (!session.url)
        throw new DomainError(ProviderError.PROVIDER_ERROR, 'Stripe returned no payment page');
      await orders.setProviderRef(order.id, 'STRIPE', session.id);
      await storage.addSession({
        sessionId: session.id,
        orderId: order.id,
        attempt,
        amountMinor: order.amountMinor,
        currency: order.currency,
      });
      return { url: session.url, sessionId: session.id };
    },

    /** A PaymentIntent for a custom card form (Stripe Elements): its client secret, one per order. */
    async createPaymentIntent(principal: Principal, orderId: string) {
      const api = client();
      const order = await payableOrderOf(orders, principal, orderId);
      const intent = await call('payment intent creation', () =>
        api.paymentIntents.create(
          {
            amount: Number(order.amountMinor),
            currency: order.currency.toLowerCase(),
            metadata: { orderId: order.id },
            automatic_payment_methods: { enabled: true },
          },
          { idempotencyKey: `symbeon-intent-${order.id}` },
        ),
      );
      await orders.setProviderRef(order.id, 'STRIPE', intent.id);
      return { paymentIntentId: intent.id, clientSecret: intent.client_secret };
    },

    /**
     * Administrators: refunds an order paid by card in full. Undefined when no card payment of this order is
     * known (another provider may have taken it). The refund is booked now when Stripe reports it succeeded,
     * else by the `charge.refunded` webhook.
     */
    async refund(principal: Principal, orderId: string, reason: string) {
      if (!isAdmin(principal))
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only administrators refund payments');
      const order = await orders.get(orderId);
      if (!order) throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
      const sessions = await storage.sessionsOf(order.id);
      if (sessions.length === 0) return undefined;
      const api = client();
      let intentId: string | undefined;
      for (const row of sessions) {
        const session = await call('session retrieval', () => api.checkout.sessions.retrieve(row.sessionId));
        if (session.payment_status === 'paid') intentId = idOf(session.payment_intent);
        if (intentId) break;
      }
      if (!intentId) return undefined;
      return refundIntent(order, intentId, reason);
    },

    /** Administrators: refunds a card payment (a PaymentIntent settlement recorded for the order) in full. */
    async refundIntent(principal: Principal, order: OrderRow, intentId: string, reason: string) {
      if (!isAdmin(principal))
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only administrators refund payments');
      return refundIntent(order, intentId, reason);
    },

    /**
     * `POST /webhooks/stripe`: the raw body and its `Stripe-Signature`. 400 for a bad signature (nothing
     * recorded), 200 once handled (or already handled), 500 when handling failed so that Stripe delivers again.
     */
    async handleWebhook(raw: Buffer, signature: string | undefined): Promise<WebhookAnswer> {
      if (!stripe || !options.webhookSecret)
        return { status: 503, body: { error: 'Stripe webhooks are not configured' } };
      if (!signature) return { status: 400, body: { error: 'Missing Stripe-Signature' } };
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(
          raw,
          signature,
          options.webhookSecret,
          options.toleranceSeconds ?? 300,
        );
      } catch (error) {
        logger.warn({ err: error }, 'Stripe webhook refused: bad signature');
        return { status: 400, body: { error: 'Invalid signature' } };
      }
      const object = event.data.object as { id?: unknown };
      const received = {
        provider: 'STRIPE' as const,
        eventId: event.id,
        type: event.type,
        objectId: typeof object.id === 'string' ? object.id : null,
        createdAt: new Date(event.created * 1000),
      };
      const { row } = await events.receive(received);
      if (row.processedAt) return { status: 200, body: { received: true, duplicate: true } };
      // A newer event about the same object was handled from a fresher read: this one has nothing to add.
      if (await events.newerHandled(received)) {
        await events.finish('STRIPE', event.id, 'STALE');
        return { status: 200, body: { received: true, outcome: 'STALE' } };
      }
      const handled = await dispatch(event);
      await events.finish('STRIPE', event.id, handled.outcome, handled.detail ?? null);
      logger.info(
        { eventId: event.id, type: event.type, outcome: handled.outcome },
        'Stripe webhook handled',
      );
      return { status: 200, body: { received: true, outcome: handled.outcome } };
    },
  };
}

export type StripeManager = ReturnType<typeof createStripeManager>;
