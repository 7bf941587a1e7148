import type { IncomingHttpHeaders } from 'node:http';
import { DomainError, ErrorCode, type Principal } from '@symbeon/kernel';
import type { OrderRow } from '../orders/orders-manager.js';
import { isAdmin, signedInUserId } from '../shared/access.js';
import { payableOrderOf, ProviderError, unavailable, type ProviderPorts } from '../stripe/provider-ports.js';
import type { WebhookEventsStorage, WebhookOutcome } from '../stripe/webhook-events-storage.js';
import type { WebhookAnswer } from '../stripe/webhook-route.js';
import { decimalToMinor, minorToDecimal } from './paypal-amount.js';
import {
  approveLink,
  PayPalApiError,
  type PayPalCapture,
  type PayPalClient,
  type PayPalOrder,
} from './paypal-client.js';
import type { PayPalOrderRow, PayPalStorage } from './paypal-storage.js';

export interface PayPalManagerOptions extends ProviderPorts {
  /** Undefined when PAYPAL_CLIENT_ID / PAYPAL_CLIENT_SECRET are unset: PayPal is unavailable. */
  client: PayPalClient | undefined;
  webhookId: string | undefined;
  storage: PayPalStorage;
  events: WebhookEventsStorage;
  /** The web app's origin: where PayPal sends the buyer back. */
  publicUrl: string;
}

type Handled = { outcome: WebhookOutcome; detail?: string };

/** Captures PayPal says are final; PENDING ones (eCheck, review) settle later by webhook. */
const COMPLETED = 'COMPLETED';
const OPEN_ORDER_STATUSES = new Set(['CREATED', 'SAVED', 'APPROVED', 'PAYER_ACTION_REQUIRED']);

const firstCapture = (order: PayPalOrder): PayPalCapture | undefined =>
  order.purchase_units?.[0]?.payments?.captures?.[0];

/**
 * PayPal Orders v2: create (PayPal-Request-Id per order and attempt), the buyer approves on PayPal, capture
 * (PayPal-Request-Id per PayPal order), refunds, and webhooks checked by PayPal's verify-webhook-signature. An
 * order is settled only when the CAPTURE is COMPLETED for the order's exact amount — the PayPal order being
 * COMPLETED is not enough (its capture may be PENDING).
 */
export function createPayPalManager(options: PayPalManagerOptions) {
  const { client, orders, settlement, storage, events, logger } = options;
  const publicUrl = options.publicUrl.replace(/\/+$/, '');

  const api = (): PayPalClient => {
    if (!client) throw unavailable('PayPal');
    return client;
  };

  async function call<T>(what: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      if (!(error instanceof PayPalApiError)) throw error;
      logger.warn({ err: error, debugId: error.debugId, issue: error.issue }, `PayPal ${what} failed`);
      throw new DomainError(ProviderError.PROVIDER_ERROR, `PayPal failed: ${error.message}`);
    }
  }

  /** Settles the capture's order once the capture is COMPLETED for exactly the order's price. */
  async function settleCapture(capture: PayPalCapture, receivedAt: Date): Promise<Handled> {
    const paypalOrderId = capture.supplementary_data?.related_ids?.order_id;
    const order =
      (paypalOrderId ? await orders.findByProviderRef('PAYPAL', paypalOrderId) : undefined) ??
      (capture.custom_id ? await orders.get(capture.custom_id) : undefined);
    if (!order) return { outcome: 'UNKNOWN_ORDER', detail: `no order for capture ${capture.id}` };
    if (paypalOrderId) await storage.setCapture(paypalOrderId, capture.id, capture.status);
    if (capture.status !== COMPLETED)
      return {
        outcome: capture.status === 'PENDING' ? 'PENDING' : 'NOT_PAID',
        detail: `${capture.status}${capture.status_details?.reason ? ` (${capture.status_details.reason})` : ''}`,
      };
    const currency = capture.amount?.currency_code ?? '';
    const amount = capture.amount ? decimalToMinor(capture.amount.value, currency) : undefined;
    if (amount !== order.amountMinor || currency !== order.currency) {
      const detail = `PayPal reports ${capture.amount?.value ?? '?'} ${currency || '?'} for order ${order.id}, which costs ${minorToDecimal(order.amountMinor, order.currency)} ${order.currency}`;
      logger.warn({ orderId: order.id, captureId: capture.id }, `payment flagged: ${detail}`);
      return { outcome: 'FLAGGED', detail };
    }
    const result = await settlement.settle({
      orderId: order.id,
      provider: 'PAYPAL',
      providerPaymentId: capture.id,
      amountMinor: order.amountMinor,
      currency: order.currency,
      receivedAt,
      details: { paypalOrderId: paypalOrderId ?? null },
    });
    if (!result.ok) return { outcome: 'FLAGGED', detail: `${result.error.code}: ${result.error.message}` };
    return { outcome: result.duplicate ? 'DUPLICATE' : 'SETTLED' };
  }

  /** Captures an approved PayPal order once (the request id makes a retry return the same capture). */
  async function capture(row: PayPalOrderRow): Promise<PayPalCapture> {
    const paypal = api();
    if (row.captureId) return call('capture read', () => paypal.getCapture(row.captureId!));
    // Asked first so that a capture refused for want of approval never spends the capture's request id.
    const current = await call('order read', () => paypal.getOrder(row.paypalOrderId));
    if (current.status === 'CREATED' || current.status === 'PAYER_ACTION_REQUIRED')
      throw new DomainError(
        ProviderError.NOT_APPROVED,
        'The buyer has not approved the payment on PayPal yet',
      );
    let captured: PayPalOrder;
    try {
      captured = await paypal.captureOrder(row.paypalOrderId, `symbeon-capture-${row.paypalOrderId}`);
    } catch (error) {
      if (!(error instanceof PayPalApiError)) throw error;
      if (error.issue === 'ORDER_NOT_APPROVED' || error.issue === 'PAYER_ACTION_REQUIRED')
        throw new DomainError(
          ProviderError.NOT_APPROVED,
          'The buyer has not approved the payment on PayPal yet',
        );
      if (error.issue !== 'ORDER_ALREADY_CAPTURED') {
        logger.warn({ err: error, debugId: error.debugId }, 'PayPal capture failed');
        throw new DomainError(ProviderError.PROVIDER_ERROR, `PayPal failed: ${error.message}`);
      }
      captured = await call('order read', () => paypal.getOrder(row.paypalOrderId));
    }
    const found = firstCapture(captured);
    if (!found) throw new DomainError(ProviderError.PROVIDER_ERROR, 'PayPal reported no capture');
    // The capture as PayPal stores it, not as the capture call's answer summarised it.
    const fresh = await call('capture read', () => paypal.getCapture(found.id));
    await storage.setCapture(row.paypalOrderId, fresh.id, fresh.status);
    return fresh;
  }

  /** Refunds a completed capture in full, once (PayPal-Request-Id names the capture). */
  async function refundCapture(order: OrderRow, captureId: string, reason: string) {
    const paypal = api();
    const captured = await call('capture read', () => paypal.getCapture(captureId));
    let refund;
    try {
      refund = await paypal.refundCapture(
        captured.id,
        { note_to_payer: reason.slice(0, 255) },
        `symbeon-refund-${captured.id}`,
      );
    } catch (error) {
      if (!(error instanceof PayPalApiError)) throw error;
      throw new DomainError(ProviderError.PROVIDER_ERROR, `PayPal failed: ${error.message}`);
    }
    const money = refund.amount ?? captured.amount;
    if (refund.status === COMPLETED && money) {
      const booked = await settlement.refund({
        orderId: order.id,
        provider: 'PAYPAL',
        providerRefundId: refund.id,
        amountMinor: decimalToMinor(money.value, money.currency_code) ?? order.amountMinor,
        currency: money.currency_code,
        reason,
      });
      if (!booked.ok) throw new DomainError(booked.error.code, booked.error.message, 'orderId');
    }
    return { refundId: refund.id, status: refund.status };
  }

  async function refundOrder(order: OrderRow, reason: string) {
    const rows = (await storage.ordersOf(order.id)).filter((row) => row.captureId);
    for (const row of rows) {
      const captured = await call('capture read', () => api().getCapture(row.captureId!));
      if (captured.status === COMPLETED || captured.status === 'REFUNDED')
        return refundCapture(order, captured.id, reason);
    }
    return undefined;
  }

  async function dispatch(event: PayPalWebhookEvent): Promise<Handled> {
    const paypal = api();
    const resourceId = typeof event.resource?.id === 'string' ? event.resource.id : '';
    const receivedAt = new Date(event.create_time ?? Date.now());
    switch (event.event_type) {
      case 'PAYMENT.CAPTURE.COMPLETED':
      case 'PAYMENT.CAPTURE.PENDING':
      case 'PAYMENT.CAPTURE.DENIED':
        return settleCapture(await paypal.getCapture(resourceId), receivedAt);
      case 'CHECKOUT.ORDER.APPROVED': {
        // The buyer approved but may never come back to the site: capture on their behalf.
        const row = await storage.byPayPalOrder(resourceId);
        if (!row) return { outcome: 'UNKNOWN_ORDER', detail: `no order for PayPal order ${resourceId}` };
        const order = await orders.get(row.orderId);
        if (!order || order.status !== 'PENDING') return { outcome: 'IGNORED', detail: order?.status };
        return settleCapture(await capture(row), receivedAt);
      }
      case 'PAYMENT.CAPTURE.REFUNDED': {
        const refund = await paypal.getRefund(resourceId);
        const captureHref = refund.links?.find((link) => link.rel === 'up')?.href;
        const captureId = captureHref?.split('/').pop();
        if (!captureId || refund.status !== COMPLETED || !refund.amount)
          return { outcome: 'IGNORED', detail: refund.status };
        const captured = await paypal.getCapture(captureId);
        const paypalOrderId = captured.supplementary_data?.related_ids?.order_id;
        const order = paypalOrderId ? await orders.findByProviderRef('PAYPAL', paypalOrderId) : undefined;
        if (!order) return { outcome: 'UNKNOWN_ORDER', detail: `no order for capture ${captureId}` };
        const amount = decimalToMinor(refund.amount.value, refund.amount.currency_code);
        if (amount === undefined)
          return { outcome: 'FLAGGED', detail: `refund amount ${refund.amount.value}` };
        const result = await settlement.refund({
          orderId: order.id,
          provider: 'PAYPAL',
          providerRefundId: refund.id,
          amountMinor: amount,
          currency: refund.amount.currency_code,
          reason: refund.note_to_payer ?? 'refunded through PayPal',
        });
        if (!result.ok)
          return { outcome: 'FLAGGED', detail: `${result.error.code}: ${result.error.message}` };
        return { outcome: result.duplicate ? 'DUPLICATE' : 'REFUNDED' };
      }
      default:
        return { outcome: 'IGNORED' };
    }
  }

  return {
    available: () => client !== undefined,

    /**
     * The buyer's PayPal order for a PENDING order (the open one if any), created with PayPal-Request-Id
     * `symbeon-order-<order>-<attempt>`; answers the page where the buyer approves it.
     */
    async createPayPalOrder(principal: Principal, orderId: string) {
      const paypal = api();
      const order = await payableOrderOf(orders, principal, orderId);
      const [latest] = await storage.ordersOf(order.id);
      if (latest && !latest.captureId) {
        const current = await call('order read', () => paypal.getOrder(latest.paypalOrderId));
        const link = approveLink(current) ?? latest.approveUrl;
        if (OPEN_ORDER_STATUSES.has(current.status) && link)
          return { paypalOrderId: current.id, approveUrl: link, status: current.status };
      }
      if (latest?.captureId) {
        // Captured already: a PENDING capture will settle by itself, and a completed one must not be paid twice.
        const captured = await call('capture read', () => paypal.getCapture(latest.captureId!));
        if (captured.status === COMPLETED) {
          await settleCapture(captured, new Date());
          throw new DomainError(ProviderError.ORDER_ALREADY_PAID, 'This order is paid already', 'orderId');
        }
        if (captured.status === 'PENDING')
          throw new DomainError(
            ProviderError.PAYMENT_PENDING,
            'A PayPal payment for this order is waiting for PayPal',
            'orderId',
          );
      }
      const attempt = (latest?.attempt ?? 0) + 1;
      const returnUrl = `${publicUrl}/orders/${order.id}`;
      const created = await call('order creation', () =>
        paypal.createOrder(
          {
            intent: 'CAPTURE',
            purchase_units: [
              {
                reference_id: order.id,
                custom_id: order.id,
                description: order.itemName.slice(0, 127),
                amount: {
                  currency_code: order.currency,
                  value: minorToDecimal(order.amountMinor, order.currency),
                },
              },
            ],
            application_context: {
              brand_name: 'Symbeon',
              shipping_preference: 'NO_SHIPPING',
              user_action: 'PAY_NOW',
              return_url: `${returnUrl}?paypal=approved`,
              cancel_url: `${returnUrl}?paypal=cancelled`,
            },
          },
          `symbeon-order-${order.id}-${attempt}`,
        ),
      );
      const link = approveLink(created);
      if (!link) throw new DomainError(ProviderError.PROVIDER_ERROR, 'PayPal returned no approval page');
      await orders.setProviderRef(order.id, 'PAYPAL', created.id);
      await storage.add({
        paypalOrderId: created.id,
        orderId: order.id,
        attempt,
        amountMinor: order.amountMinor,
        currency: order.currency,
        approveUrl: link,
      });
      return { paypalOrderId: created.id, approveUrl: link, status: created.status };
    },

    /**
     * The buyer, back from PayPal: captures the approved PayPal order. The order is PAID when the capture is
     * COMPLETED; a PENDING capture is answered as such and settled by PayPal's webhook when it completes.
     */
    async capturePayPalOrder(principal: Principal, orderId: string) {
      api();
      const buyerId = signedInUserId(principal);
      const order = await orders.get(orderId);
      if (!order || order.buyerId !== buyerId)
        throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
      const [row] = await storage.ordersOf(order.id);
      if (!row) throw new DomainError(ProviderError.NOT_APPROVED, 'Create a PayPal order first', 'orderId');
      if (!row.captureId) await payableOrderOf(orders, principal, orderId);
      const captured = await capture(row);
      const handled = await settleCapture(captured, new Date());
      if (handled.outcome === 'FLAGGED')
        throw new DomainError(ProviderError.PROVIDER_ERROR, 'The payment was received but needs a review');
      if (captured.status !== COMPLETED && captured.status !== 'PENDING')
        throw new DomainError(
          ProviderError.PROVIDER_ERROR,
          `PayPal declined the payment (${captured.status})`,
        );
      return { captureId: captured.id, captureStatus: captured.status, order: (await orders.get(order.id))! };
    },

    /** Administrators: refunds an order's completed PayPal capture in full; undefined when it has none. */
    async refund(principal: Principal, orderId: string, reason: string) {
      if (!isAdmin(principal))
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only administrators refund payments');
      const order = await orders.get(orderId);
      if (!order) throw new DomainError(ErrorCode.NOT_FOUND, 'No such order', 'orderId');
      return refundOrder(order, reason);
    },

    /** Administrators: refunds a PayPal payment (a capture settlement recorded for the order) in full. */
    async refundCapture(principal: Principal, order: OrderRow, captureId: string, reason: string) {
      if (!isAdmin(principal))
        throw new DomainError(ErrorCode.FORBIDDEN, 'Only administrators refund payments');
      return refundCapture(order, captureId, reason);
    },

    /**
     * `POST /webhooks/paypal`: verified by PayPal (verify-webhook-signature with PAYPAL_WEBHOOK_ID), handled once
     * per event id, the resource re-read from PayPal. 400 when unverified, 500 when handling failed (PayPal
     * delivers again).
     */
    async handleWebhook(raw: Buffer, headers: IncomingHttpHeaders): Promise<WebhookAnswer> {
      if (!client || !options.webhookId)
        return { status: 503, body: { error: 'PayPal webhooks are not configured' } };
      const header = (name: string) => {
        const value = headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      const authAlgo = header('paypal-auth-algo');
      const certUrl = header('paypal-cert-url');
      const transmissionId = header('paypal-transmission-id');
      const transmissionSig = header('paypal-transmission-sig');
      const transmissionTime = header('paypal-transmission-time');
      const text = raw.toString('utf8');
      let event: PayPalWebhookEvent;
      try {
        event = JSON.parse(text) as PayPalWebhookEvent;
      } catch {
        return { status: 400, body: { error: 'The body is not JSON' } };
      }
      if (
        !authAlgo ||
        !certUrl ||
        !transmissionId ||
        !transmissionSig ||
        !transmissionTime ||
        typeof event.id !== 'string' ||
        typeof event.event_type !== 'string'
      )
        return { status: 400, body: { error: 'Missing PayPal transmission headers or event id' } };
      const verified = await client.verifyWebhookSignature(
        { authAlgo, certUrl, transmissionId, transmissionSig, transmissionTime },
        options.webhookId,
        text,
      );
      if (!verified) {
        logger.warn({ transmissionId }, 'PayPal webhook refused: not verified');
        return { status: 400, body: { error: 'Invalid signature' } };
      }
      const resourceId = event.resource?.id;
      const received = {
        provider: 'PAYPAL' as const,
        eventId: event.id,
        type: event.event_type,
        objectId: typeof resourceId === 'string' ? resourceId : null,
        createdAt: new Date(event.create_time ?? Date.now()),
      };
      const { row } = await events.receive(received);
      if (row.processedAt) return { status: 200, body: { received: true, duplicate: true } };
      if (await events.newerHandled(received)) {
        await events.finish('PAYPAL', event.id, 'STALE');
        return { status: 200, body: { received: true, outcome: 'STALE' } };
      }
      let handled: Handled;
      try {
        handled = await dispatch(event);
      } catch (error) {
        // A capture not approved yet, or the like: nothing to do for this event.
        if (!(error instanceof DomainError)) throw error;
        handled = { outcome: 'IGNORED', detail: `${error.code}: ${error.message}` };
      }
      await events.finish('PAYPAL', event.id, handled.outcome, handled.detail ?? null);
      logger.info(
        { eventId: event.id, type: event.event_type, outcome: handled.outcome },
        'PayPal webhook handled',
      );
      return { status: 200, body: { received: true, outcome: handled.outcome } };
    },
  };
}

export interface PayPalWebhookEvent {
  id: string;
  event_type: string;
  create_time?: string;
  resource_type?: string;
  resource?: { id?: unknown } & Record<string, unknown>;
}

export type PayPalManager = ReturnType<typeof createPayPalManager>;
