import { randomUUID } from 'node:crypto';
import { createLogger } from '@symbeon/kernel';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// The third-party fakes are shared with the end-to-end tests; only Stripe itself is faked.
// eslint-disable-next-line import-x/no-relative-packages
import { startFakeStripe, type FakeStripe } from '../../../../../tests/kit/stripe-fake.js';
import { createContext } from '../../context.js';
import * as schema from '../../db/schema.js';
import { openPaymentsFixture, userPrincipal, type PaymentsFixture } from '../../test-fixture.js';
import { createStripeClient } from './stripe-client.js';
import { createStripeManager, type StripeManager } from './stripe-manager.js';
import { stripeResolvers } from './stripe-resolvers.js';
import { createStripeStorage } from './stripe-storage.js';
import { createWebhookEventsStorage } from './webhook-events-storage.js';

let fixture: PaymentsFixture;
let stripe: FakeStripe;
let manager: StripeManager;
const logger = createLogger('stripe-test', { level: 'silent' });

const build = (keys: { secretKey?: string; webhookSecret?: string }) =>
  createStripeManager({
    stripe: createStripeClient({ secretKey: keys.secretKey, apiUrl: stripe.url }),
    webhookSecret: keys.webhookSecret,
    orders: fixture.modules.orders,
    settlement: fixture.modules.settlement,
    storage: createStripeStorage(fixture.database.db),
    events: createWebhookEventsStorage(fixture.database.db),
    publicUrl: 'https://symbeon.example/',
    logger,
  });

beforeAll(async () => {
  fixture = await openPaymentsFixture();
  stripe = await startFakeStripe();
  manager = build({ secretKey: stripe.secretKey, webhookSecret: stripe.webhookSecret });
});

afterEach(async () => {
  await fixture.expectLedgerBalanced();
});

afterAll(async () => {
  await stripe?.stop();
  await fixture?.close();
});

async function openOrder(amountMinor = 4900n, currency = 'EUR') {
  const buyer = await fixture.buyer();
  const programmeId = await fixture.programme({ amountMinor, currency });
  const { order } = await fixture.modules.orders.createOrder(buyer, { programmeId });
  return { buyer, order };
}

const deliver = (
  event: ReturnType<FakeStripe['event']>,
  options: { secret?: string; timestamp?: number } = {},
) => {
  const { payload, signature } = stripe.sign(event, options);
  return manager.handleWebhook(Buffer.from(payload), signature);
};

async function rowsOf(orderId: string) {
  const db = fixture.database.db;
  return {
    payments: await db.select().from(schema.paymentsTable).where(eq(schema.paymentsTable.orderId, orderId)),
    invoices: await db.select().from(schema.invoices).where(eq(schema.invoices.orderId, orderId)),
    entries: await db.select().from(schema.journalEntries).where(eq(schema.journalEntries.orderId, orderId)),
    order: (await fixture.modules.orders.get(orderId))!,
  };
}

async function expectRefusal(body: () => Promise<unknown>, code: string) {
  await expect(body()).rejects.toMatchObject({ code });
}

describe('createCheckoutSession', () => {
  it("creates the order's session once, with an idempotency key from the order, its price and return URLs", async () => {
    const { buyer, order } = await openOrder(4900n);
    const first = await manager.createCheckoutSession(buyer, order.id);
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/pay\/cs_test_/);
    const created = stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions');
    const mine = created.find((r) => r.body.client_reference_id === order.id)!;
    expect(mine.idempotencyKey).toBe(`symbeon-checkout-${order.id}-1`);
    expect(mine.body).toMatchObject({
      mode: 'payment',
      client_reference_id: order.id,
      metadata: { orderId: order.id },
      payment_intent_data: { metadata: { orderId: order.id } },
      line_items: [{ quantity: '1', price_data: { currency: 'eur', unit_amount: '4900' } }],
      cancel_url: `https://symbeon.example/orders/${order.id}?checkout=cancelled`,
    });
    expect(String(mine.body.success_url)).toMatch(
      new RegExp(`^https://symbeon\\.example/orders/${order.id}\\?checkout=success&session_id=`),
    );
    // Asked again (a double click, a retry): the same open session, no second one.
    const again = await manager.createCheckoutSession(buyer, order.id);
    expect(again).toEqual(first);
    expect(
      stripe.requests.filter(
        (r) => r.path === '/v1/checkout/sessions' && r.body.client_reference_id === order.id,
      ),
    ).toHaveLength(1);
    expect((await fixture.modules.orders.findByProviderRef('STRIPE', first.sessionId))?.id).toBe(order.id);
  });

  it("is the buyer's only, and refused for paid and cancelled orders", async () => {
    const { buyer, order } = await openOrder();
    const stranger = await fixture.buyer();
    await expectRefusal(() => manager.createCheckoutSession(stranger, order.id), 'NOT_FOUND');
    await expectRefusal(() => manager.createCheckoutSession(buyer, 'not-an-id'), 'NOT_FOUND');

    const { sessionId } = await manager.createCheckoutSession(buyer, order.id);
    expect((await deliver(stripe.paySession(sessionId))).status).toBe(200);
    await expectRefusal(() => manager.createCheckoutSession(buyer, order.id), 'ORDER_ALREADY_PAID');

    const other = await openOrder();
    await fixture.modules.orders.cancelOrder(other.buyer, other.order.id);
    await expectRefusal(() => manager.createCheckoutSession(other.buyer, other.order.id), 'ORDER_CANCELLED');
  });

  it('settles from Stripe when the buyer paid but the webhook never came', async () => {
    const { buyer, order } = await openOrder();
    const { sessionId } = await manager.createCheckoutSession(buyer, order.id);
    stripe.paySession(sessionId);
    await expectRefusal(() => manager.createCheckoutSession(buyer, order.id), 'ORDER_ALREADY_PAID');
    expect((await rowsOf(order.id)).order.status).toBe('PAID');
  });

  it('answers PROVIDER_UNAVAILABLE without a secret key, and the webhook 503', async () => {
    const off = build({});
    const { buyer, order } = await openOrder();
    await expectRefusal(() => off.createCheckoutSession(buyer, order.id), 'PROVIDER_UNAVAILABLE');
    await expectRefusal(() => off.createPaymentIntent(buyer, order.id), 'PROVIDER_UNAVAILABLE');
    expect((await off.handleWebhook(Buffer.from('{}'), 't=1,v1=x')).status).toBe(503);
    expect(off.available()).toBe(false);
  });
});

describe('POST /webhooks/stripe', () => {
  it('settles once however often, late or out of order the events come', async () => {
    const { buyer, order } = await openOrder(4900n);
    const { sessionId } = await manager.createCheckoutSession(buyer, order.id);
    const completed = stripe.paySession(sessionId);

    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await deliver(completed));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers[0]!.body).toMatchObject({ outcome: 'SETTLED' });
    expect(answers[1]!.body).toMatchObject({ duplicate: true });

    // The same payment announced by another event (the PaymentIntent's own): nothing more.
    const intentId = String(stripe.session(sessionId)!.payment_intent);
    const succeeded = await deliver(
      stripe.event('payment_intent.succeeded', stripe.paymentIntent(intentId)!),
    );
    expect(succeeded.body).toMatchObject({ outcome: 'DUPLICATE' });
    // An older event about the session, delivered after the newer one: stale, nothing changes.
    const older = stripe.event(
      'checkout.session.expired',
      stripe.session(sessionId)!,
      completed.created - 60,
    );
    expect((await deliver(older)).body).toMatchObject({ outcome: 'STALE' });

    const rows = await rowsOf(order.id);
    expect(rows.order.status).toBe('PAID');
    expect(rows.payments).toHaveLength(1);
    expect(rows.payments[0]).toMatchObject({
      provider: 'STRIPE',
      providerPaymentId: intentId,
      amountMinor: 4900n,
    });
    expect(rows.invoices).toHaveLength(1);
    expect(rows.entries.length).toBeGreaterThan(0);
    const entries = rows.entries.length;
    await deliver(completed);
    expect((await rowsOf(order.id)).entries).toHaveLength(entries);
  });

  it('refuses a bad signature, a stale signature and a missing one, and records nothing', async () => {
    const { buyer, order } = await openOrder();
    const { sessionId } = await manager.createCheckoutSession(buyer, order.id);
    const event = stripe.paySession(sessionId);
    expect((await deliver(event, { secret: 'whsec_not-the-right-one' })).status).toBe(400);
    expect((await deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status).toBe(400);
    expect((await manager.handleWebhook(Buffer.from(stripe.sign(event).payload), undefined)).status).toBe(
      400,
    );
    // A body altered after signing.
    const { payload, signature } = stripe.sign(event);
    const altered = await manager.handleWebhook(Buffer.from(payload.replace('4900', '4901')), signature);
    expect(altered.status).toBe(400);
    expect((await rowsOf(order.id)).order.status).toBe('PENDING');
    expect(await createWebhookEventsStorage(fixture.database.db).get('STRIPE', event.id)).toBeUndefined();
    // The genuine delivery still works afterwards.
    expect((await deliver(event)).body).toMatchObject({ outcome: 'SETTLED' });
  });

  it("re-reads the session from Stripe rather than trusting the payload, and flags amounts that are not the order's", async () => {
    const { buyer, order } = await openOrder(4900n);
    const { sessionId } = await manager.createCheckoutSession(buyer, order.id);
    // The payload says paid; Stripe says it is not.
    const forged = stripe.event('checkout.session.completed', {
      ...stripe.session(sessionId)!,
      payment_status: 'paid',
      status: 'complete',
    });
    expect((await deliver(forged)).body).toMatchObject({ outcome: 'NOT_PAID' });
    expect((await rowsOf(order.id)).order.status).toBe('PENDING');

    // Stripe charged another amount (a misconfigured price): flagged for an administrator, not settled.
    const mismatched = stripe.paySession(sessionId, { amount: 100 });
    expect((await deliver(mismatched)).body).toMatchObject({ outcome: 'FLAGGED' });
    const rows = await rowsOf(order.id);
    expect(rows.order.status).toBe('PENDING');
    expect(rows.payments).toHaveLength(0);
    const events = createWebhookEventsStorage(fixture.database.db);
    const flagged = await events.get('STRIPE', mismatched.id);
    expect(flagged).toMatchObject({ outcome: 'FLAGGED' });
    expect(flagged?.detail).toContain('100 EUR');
    // Listed for administrators (Query.providerEventsNeedingReview), refused to others.
    const resolvers = stripeResolvers(manager, () => undefined as never, events);
    const admin = createContext(fixture.modules, 'test', userPrincipal(randomUUID(), ['ADMIN']));
    const listed = await resolvers.Query.providerEventsNeedingReview(null, { first: 10 }, admin);
    expect(listed.map((event) => event.eventId)).toContain(mismatched.id);
    await expect(
      resolvers.Query.providerEventsNeedingReview(null, {}, createContext(fixture.modules, 'test', buyer)),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });

  it('answers an error when Stripe cannot be reached, so that Stripe delivers again; the next delivery settles', async () => {
    const { buyer, order } = await openOrder();
    const { sessionId } = await manager.createCheckoutSession(buyer, order.id);
    const event = stripe.paySession(sessionId);
    const cutOff = createStripeManager({
      stripe: createStripeClient({ secretKey: stripe.secretKey, apiUrl: 'http://127.0.0.1:9' }),
      webhookSecret: stripe.webhookSecret,
      orders: fixture.modules.orders,
      settlement: fixture.modules.settlement,
      storage: createStripeStorage(fixture.database.db),
      events: createWebhookEventsStorage(fixture.database.db),
      publicUrl: 'https://symbeon.example',
      logger,
    });
    const { payload, signature } = stripe.sign(event);
    await expect(cutOff.handleWebhook(Buffer.from(payload), signature)).rejects.toThrow();
    const recorded = await createWebhookEventsStorage(fixture.database.db).get('STRIPE', event.id);
    expect(recorded).toMatchObject({ processedAt: null, deliveries: 1 });
    expect((await rowsOf(order.id)).order.status).toBe('PENDING');
    expect((await deliver(event)).body).toMatchObject({ outcome: 'SETTLED' });
    expect(await createWebhookEventsStorage(fixture.database.db).get('STRIPE', event.id)).toMatchObject({
      outcome: 'SETTLED',
      deliveries: 2,
    });
  });

  it('ignores events it does not handle and sessions it did not create', async () => {
    const unknown = stripe.event('customer.created', { id: 'cus_1', object: 'customer' });
    expect((await deliver(unknown)).body).toMatchObject({ outcome: 'IGNORED' });
    const { buyer, order } = await openOrder();
    await manager.createCheckoutSession(buyer, order.id);
    // A session of another integration on the same Stripe account.
    const foreign = await createStripeClient({
      secretKey: stripe.secretKey,
      apiUrl: stripe.url,
    })!.checkout.sessions.create({
      mode: 'payment',
      line_items: [
        { quantity: 1, price_data: { currency: 'eur', unit_amount: 4900, product_data: { name: 'x' } } },
      ],
      client_reference_id: order.id,
      success_url: 'https://elsewhere.example/',
    });
    expect((await deliver(stripe.paySession(foreign.id))).body).toMatchObject({ outcome: 'UNKNOWN_ORDER' });
    expect((await rowsOf(order.id)).order.status).toBe('PENDING');
  });
});

describe('refunds', () => {
  it('refunds a card payment for an administrator once, and the charge.refunded webhook adds nothing', async () => {
    const { buyer, order } = await openOrder(4900n);
    const { sessionId } = await manager.createCheckoutSession(buyer, order.id);
    await deliver(stripe.paySession(sessionId));
    await expectRefusal(() => manager.refund(buyer, order.id, 'mine'), 'FORBIDDEN');

    const admin = userPrincipal(randomUUID(), ['ADMIN']);
    const refund = await manager.refund(admin, order.id, 'requested by the customer');
    expect(refund).toMatchObject({ status: 'succeeded' });
    const again = await manager.refund(admin, order.id, 'requested by the customer');
    expect(again?.refundId).toBe(refund?.refundId);
    const refundRequests = stripe.requests.filter((r) => r.path === '/v1/refunds' && r.method === 'POST');
    expect(new Set(refundRequests.map((r) => r.idempotencyKey)).size).toBeGreaterThanOrEqual(1);

    const intentId = String(stripe.session(sessionId)!.payment_intent);
    const charge = stripe.paymentIntent(intentId)!.latest_charge as string;
    const webhook = await deliver(stripe.event('charge.refunded', { id: charge, object: 'charge' }));
    expect(webhook.body).toMatchObject({ outcome: 'DUPLICATE' });
    const order2 = (await rowsOf(order.id)).order;
    expect(order2.status).toBe('REFUNDED');
    const refunds = await fixture.database.db
      .select()
      .from(schema.refunds)
      .where(eq(schema.refunds.orderId, order.id));
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ providerRefundId: refund!.refundId, amountMinor: 4900n });
  });

  it('books a refund made in the Stripe dashboard from its charge.refunded webhook', async () => {
    const { buyer, order } = await openOrder(4900n);
    const { sessionId } = await manager.createCheckoutSession(buyer, order.id);
    await deliver(stripe.paySession(sessionId));
    const event = stripe.refundOutside(String(stripe.session(sessionId)!.payment_intent));
    expect((await deliver(event)).body).toMatchObject({ outcome: 'REFUNDED' });
    expect((await deliver(event)).body).toMatchObject({ duplicate: true });
    expect((await rowsOf(order.id)).order.status).toBe('REFUNDED');
  });
});

describe('createPaymentIntent', () => {
  it("gives a custom card form the intent's client secret; its payment_intent.succeeded settles the order", async () => {
    const { buyer, order } = await openOrder(1250n, 'USD');
    const intent = await manager.createPaymentIntent(buyer, order.id);
    expect(intent.clientSecret).toMatch(/^pi_test_\w+_secret_/);
    expect((await manager.createPaymentIntent(buyer, order.id)).paymentIntentId).toBe(intent.paymentIntentId);
    const event = stripe.succeedPaymentIntent(intent.paymentIntentId);
    expect((await deliver(event)).body).toMatchObject({ outcome: 'SETTLED' });
    expect((await rowsOf(order.id)).order.status).toBe('PAID');

    // refundPayment refunds what settlement recorded (here a PaymentIntent, no Checkout Session).
    const resolvers = stripeResolvers(
      manager,
      () => undefined as never,
      createWebhookEventsStorage(fixture.database.db),
    );
    const member = await resolvers.Mutation.refundPayment(
      null,
      { orderId: order.id, reason: 'x' },
      createContext(fixture.modules, 'test', buyer),
    );
    expect(member).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const admin = createContext(fixture.modules, 'test', userPrincipal(randomUUID(), ['ADMIN']));
    const refunded = await resolvers.Mutation.refundPayment(
      null,
      { orderId: order.id, reason: 'test refund' },
      admin,
    );
    expect(refunded).toMatchObject({ ok: true, refundStatus: 'succeeded', order: { status: 'REFUNDED' } });
    const nothing = await resolvers.Mutation.refundPayment(
      null,
      { orderId: (await openOrder()).order.id, reason: 'nothing paid' },
      admin,
    );
    expect(nothing).toMatchObject({ ok: false, error: { code: 'NOTHING_TO_REFUND' } });
  });
});
