import { randomUUID } from 'node:crypto';
import { createLogger } from '@symbeon/kernel';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// The third-party fakes are shared with the end-to-end tests; only PayPal itself is faked.
/* eslint-disable import-x/no-relative-packages */
import {
  startFakePayPal,
  type FakePayPal,
  type FakePayPalEvent,
} from '../../../../../tests/kit/paypal-fake.js';
/* eslint-enable import-x/no-relative-packages */
import * as schema from '../../db/schema.js';
import { openPaymentsFixture, userPrincipal, type PaymentsFixture } from '../../test-fixture.js';
import { createWebhookEventsStorage } from '../stripe/webhook-events-storage.js';
import { decimalToMinor, minorToDecimal } from './paypal-amount.js';
import { createPayPalClient } from './paypal-client.js';
import { createPayPalManager, type PayPalManager } from './paypal-manager.js';
import { createPayPalStorage } from './paypal-storage.js';

let fixture: PaymentsFixture;
let paypal: FakePayPal;
let manager: PayPalManager;
const logger = createLogger('paypal-test', { level: 'silent' });

const build = (credentials: { clientId?: string; clientSecret?: string; webhookId?: string }) =>
  createPayPalManager({
    client: createPayPalClient({
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret,
      apiUrl: paypal.url,
    }),
    webhookId: credentials.webhookId,
    orders: fixture.modules.orders,
    settlement: fixture.modules.settlement,
    storage: createPayPalStorage(fixture.database.db),
    events: createWebhookEventsStorage(fixture.database.db),
    publicUrl: 'https://symbeon.example',
    logger,
  });

beforeAll(async () => {
  fixture = await openPaymentsFixture();
  paypal = await startFakePayPal();
  manager = build({
    clientId: paypal.clientId,
    clientSecret: paypal.clientSecret,
    webhookId: paypal.webhookId,
  });
});

afterEach(async () => {
  paypal.nextCaptureStatus = 'COMPLETED';
  await fixture.expectLedgerBalanced();
});

afterAll(async () => {
  await paypal?.stop();
  await fixture?.close();
});

async function openOrder(amountMinor = 4900n, currency = 'EUR') {
  const buyer = await fixture.buyer();
  const programmeId = await fixture.programme({ amountMinor, currency });
  const { order } = await fixture.modules.orders.createOrder(buyer, { programmeId });
  return { buyer, order };
}

const deliver = (event: FakePayPalEvent, options: { tamper?: boolean } = {}) => {
  const { body, headers } = paypal.sign(event, options);
  return manager.handleWebhook(Buffer.from(body), headers);
};

async function expectRefusal(body: () => Promise<unknown>, code: string) {
  await expect(body()).rejects.toMatchObject({ code });
}

async function rowsOf(orderId: string) {
  const db = fixture.database.db;
  return {
    payments: await db.select().from(schema.paymentsTable).where(eq(schema.paymentsTable.orderId, orderId)),
    invoices: await db.select().from(schema.invoices).where(eq(schema.invoices.orderId, orderId)),
    order: (await fixture.modules.orders.get(orderId))!,
  };
}

describe('amounts', () => {
  it('converts minor units to PayPal decimals and back without floats', () => {
    expect(minorToDecimal(4900n, 'EUR')).toBe('49.00');
    expect(minorToDecimal(5n, 'USD')).toBe('0.05');
    expect(minorToDecimal(123456789012345n, 'EUR')).toBe('1234567890123.45');
    expect(minorToDecimal(500n, 'JPY')).toBe('500');
    expect(decimalToMinor('49.00', 'EUR')).toBe(4900n);
    expect(decimalToMinor('49', 'EUR')).toBe(4900n);
    expect(decimalToMinor('0.1', 'EUR')).toBe(10n);
    expect(decimalToMinor('49.001', 'EUR')).toBeUndefined();
    expect(decimalToMinor('4.9e1', 'EUR')).toBeUndefined();
    expect(decimalToMinor('500', 'JPY')).toBe(500n);
  });
});

describe('create, approve, capture', () => {
  it('creates the PayPal order once with PayPal-Request-Id, approves, captures COMPLETED → PAID', async () => {
    const { buyer, order } = await openOrder(4900n);
    const created = await manager.createPayPalOrder(buyer, order.id);
    expect(created.approveUrl).toBe(`${paypal.url}/checkoutnow?token=${created.paypalOrderId}`);
    const request = paypal.requests.find(
      (r) => r.path === '/v2/checkout/orders' && r.body?.purchase_units?.[0]?.custom_id === order.id,
    )!;
    expect(request.requestId).toBe(`symbeon-order-${order.id}-1`);
    expect(request.body).toMatchObject({
      intent: 'CAPTURE',
      purchase_units: [{ reference_id: order.id, amount: { currency_code: 'EUR', value: '49.00' } }],
      application_context: { return_url: `https://symbeon.example/orders/${order.id}?paypal=approved` },
    });
    expect((await manager.createPayPalOrder(buyer, order.id)).paypalOrderId).toBe(created.paypalOrderId);

    await expectRefusal(() => manager.capturePayPalOrder(buyer, order.id), 'NOT_APPROVED');
    paypal.approve(created.paypalOrderId);
    const captured = await manager.capturePayPalOrder(buyer, order.id);
    expect(captured).toMatchObject({ captureStatus: 'COMPLETED', order: { status: 'PAID' } });
    const capture = paypal.requests.find(
      (r) => r.path === `/v2/checkout/orders/${created.paypalOrderId}/capture`,
    )!;
    expect(capture.requestId).toBe(`symbeon-capture-${created.paypalOrderId}`);
    // Captured again (the buyer reloads the return page): the same capture, nothing more.
    expect((await manager.capturePayPalOrder(buyer, order.id)).captureId).toBe(captured.captureId);
    const rows = await rowsOf(order.id);
    expect(rows.payments).toHaveLength(1);
    expect(rows.payments[0]).toMatchObject({
      provider: 'PAYPAL',
      providerPaymentId: captured.captureId,
      amountMinor: 4900n,
    });
    expect(rows.invoices).toHaveLength(1);
    // The webhook PayPal sends for the same capture adds nothing.
    const event = paypal.event('PAYMENT.CAPTURE.COMPLETED', 'capture', paypal.capture(captured.captureId)!);
    expect((await deliver(event)).body).toMatchObject({ outcome: 'DUPLICATE' });
    expect((await rowsOf(order.id)).payments).toHaveLength(1);
  });

  it('keeps the OAuth token until it expires', async () => {
    const before = paypal.tokensIssued();
    const { buyer, order } = await openOrder();
    await manager.createPayPalOrder(buyer, order.id);
    await manager.createPayPalOrder(buyer, order.id);
    expect(paypal.tokensIssued()).toBe(before === 0 ? 1 : before);
  });

  it('leaves a PENDING capture pending, and settles it when PayPal reports it completed', async () => {
    const { buyer, order } = await openOrder(2500n, 'USD');
    const { paypalOrderId } = await manager.createPayPalOrder(buyer, order.id);
    paypal.approve(paypalOrderId);
    paypal.nextCaptureStatus = 'PENDING';
    const captured = await manager.capturePayPalOrder(buyer, order.id);
    expect(captured).toMatchObject({ captureStatus: 'PENDING', order: { status: 'PENDING' } });
    // PayPal's order is COMPLETED, its capture is not: no money yet.
    expect(paypal.order(paypalOrderId)?.status).toBe('COMPLETED');
    expect((await rowsOf(order.id)).payments).toHaveLength(0);
    const pendingEvent = paypal.event(
      'PAYMENT.CAPTURE.PENDING',
      'capture',
      paypal.capture(captured.captureId)!,
    );
    expect((await deliver(pendingEvent)).body).toMatchObject({ outcome: 'PENDING' });
    // No second PayPal order while the money is on its way.
    await expectRefusal(() => manager.createPayPalOrder(buyer, order.id), 'PAYMENT_PENDING');

    const completed = paypal.completeCapture(captured.captureId);
    expect((await deliver(completed)).body).toMatchObject({ outcome: 'SETTLED' });
    expect((await deliver(completed)).body).toMatchObject({ duplicate: true });
    expect((await rowsOf(order.id)).order.status).toBe('PAID');
  });

  it("is the buyer's only; PROVIDER_UNAVAILABLE without credentials", async () => {
    const { buyer, order } = await openOrder();
    const stranger = await fixture.buyer();
    await expectRefusal(() => manager.createPayPalOrder(stranger, order.id), 'NOT_FOUND');
    await expectRefusal(() => manager.capturePayPalOrder(stranger, order.id), 'NOT_FOUND');
    const off = build({});
    await expectRefusal(() => off.createPayPalOrder(buyer, order.id), 'PROVIDER_UNAVAILABLE');
    await expectRefusal(() => off.capturePayPalOrder(buyer, order.id), 'PROVIDER_UNAVAILABLE');
    expect((await off.handleWebhook(Buffer.from('{}'), {})).status).toBe(503);
  });
});

describe('POST /webhooks/paypal', () => {
  it('refuses deliveries PayPal does not verify, and records nothing', async () => {
    const { buyer, order } = await openOrder();
    const { paypalOrderId } = await manager.createPayPalOrder(buyer, order.id);
    paypal.approve(paypalOrderId);
    const approved = paypal.event('CHECKOUT.ORDER.APPROVED', 'checkout-order', { id: paypalOrderId });
    expect((await deliver(approved, { tamper: true })).status).toBe(400);
    const { body, headers } = paypal.sign(approved);
    expect(
      (await manager.handleWebhook(Buffer.from(body.replace('APPROVED', 'APPROVED ')), headers)).status,
    ).toBe(400);
    expect(
      (await manager.handleWebhook(Buffer.from(body), { 'content-type': 'application/json' })).status,
    ).toBe(400);
    expect(await createWebhookEventsStorage(fixture.database.db).get('PAYPAL', approved.id)).toBeUndefined();
    expect((await rowsOf(order.id)).order.status).toBe('PENDING');
    // The buyer approved and never came back: the approval webhook captures for them.
    expect((await deliver(approved)).body).toMatchObject({ outcome: 'SETTLED' });
    expect((await rowsOf(order.id)).order.status).toBe('PAID');
  });
});

describe('refunds', () => {
  it('refunds a PayPal capture for an administrator once; the refund webhook adds nothing', async () => {
    const { buyer, order } = await openOrder(4900n);
    const { paypalOrderId } = await manager.createPayPalOrder(buyer, order.id);
    paypal.approve(paypalOrderId);
    await manager.capturePayPalOrder(buyer, order.id);
    await expectRefusal(() => manager.refund(buyer, order.id, 'mine'), 'FORBIDDEN');
    const admin = userPrincipal(randomUUID(), ['ADMIN']);
    const refund = await manager.refund(admin, order.id, 'duplicate purchase');
    expect(refund).toMatchObject({ status: 'COMPLETED' });
    const event = paypal.event('PAYMENT.CAPTURE.REFUNDED', 'refund', { id: refund!.refundId });
    expect((await deliver(event)).body).toMatchObject({ outcome: 'DUPLICATE' });
    expect((await rowsOf(order.id)).order.status).toBe('REFUNDED');
    const refunds = await fixture.database.db
      .select()
      .from(schema.refunds)
      .where(eq(schema.refunds.orderId, order.id));
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ provider: 'PAYPAL', amountMinor: 4900n, currency: 'EUR' });
  });
});
