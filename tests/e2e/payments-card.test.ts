import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approvedCertificationRequest,
  devKeys,
  signIn,
  startFakePayPal,
  startFakeStripe,
  startPublicTestStack,
  startTestStack,
  type FakePayPal,
  type FakeStripe,
  type SignedIn,
  type TestStack,
  until,
} from '../kit/index.js';

// Card (Stripe) and PayPal payments through the gateway only. Stripe and PayPal cannot be reached from tests:
// the stack's payments subgraph talks to local stand-ins (tests/kit) with the real stripe SDK and plain HTTP,
// and the webhooks reach the gateway's POST /webhooks/stripe and /webhooks/paypal signed the providers' way.

const ORDER = `query ($id: ID!) {
  order(id: $id) { id status amountMinor currency invoice { number } payments { provider providerPaymentId amountMinor } }
}`;
const CHECKOUT = `mutation ($orderId: ID!) {
  createCheckoutSession(orderId: $orderId) { ok error { code message } url sessionId }
}`;
const PAYPAL_ORDER = `mutation ($orderId: ID!) {
  createPayPalOrder(orderId: $orderId) { ok error { code message } paypalOrderId approveUrl }
}`;
const PAYPAL_CAPTURE = `mutation ($orderId: ID!) {
  capturePayPalOrder(orderId: $orderId) { ok error { code message } captureId captureStatus order { status } }
}`;
const BOOKS = '{ ledgerBalances { balanced providers { provider netMinor } } }';

describe('card and PayPal payments through the gateway', () => {
  let stack: TestStack;
  let stripe: FakeStripe;
  let paypal: FakePayPal;
  let linus: SignedIn;
  let alan: SignedIn;
  let ada: SignedIn;
  let admin: SignedIn;
  let professional: string;

  beforeAll(async () => {
    [stripe, paypal] = await Promise.all([startFakeStripe(), startFakePayPal()]);
    stack = await startPublicTestStack({
      PAYMENTS_PORT: '0',
      STRIPE_SECRET_KEY: stripe.secretKey,
      STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      STRIPE_API_URL: stripe.url,
      PAYPAL_CLIENT_ID: paypal.clientId,
      PAYPAL_CLIENT_SECRET: paypal.clientSecret,
      PAYPAL_WEBHOOK_ID: paypal.webhookId,
      PAYPAL_API_URL: paypal.url,
      // The seeded Professional programme issues in Merkle batches: anchor a batch within two seconds.
      CERTIFICATION_BATCH_MAX_WAIT_SECONDS: '2',
    });
    [linus, alan, ada, admin] = await Promise.all([
      signIn(stack.graphql, devKeys.linus),
      signIn(stack.graphql, devKeys.alan),
      signIn(stack.graphql, devKeys.ada),
      signIn(stack.graphql, devKeys.symbeon),
    ]);
    const programme = await stack.graphql('{ programme(slug: "professional") { id } }');
    professional = programme.body.data!.programme.id as string;
  });

  afterAll(async () => {
    await stack?.stop();
    await stripe?.stop();
    await paypal?.stop();
  });

  const requestStatus = async (id: string) => {
    const seen = await stack.graphql(
      'query ($id: ID!) { certificationRequest(id: $id) { status } }',
      { id },
      linus.headers,
    );
    expect(seen.body.errors).toBeUndefined();
    return seen.body.data!.certificationRequest.status as string;
  };

  /** linus's Professional request, with both documents, submitted, audited and approved by alan. */
  function approvedRequest(): Promise<string> {
    return approvedCertificationRequest(stack.graphql, {
      programmeId: professional,
      requester: linus,
      auditor: alan,
      evidenceKeys: ['portfolio', 'project_report'],
      reach: 'AWAITING_PAYMENT',
    });
  }

  /** createOrder for Professional, retried until payments has projected certification's catalogue. */
  const orderFor = (who: SignedIn) =>
    until(async () => {
      const created = await stack.graphql(
        'mutation ($input: CreateOrderInput!) { createOrder(input: $input) { ok error { code message } order { id status amountMinor currency } } }',
        { input: { programmeId: professional } },
        who.headers,
      );
      expect(created.body.errors).toBeUndefined();
      const payload = created.body.data!.createOrder;
      return payload.ok ? (payload.order as { id: string; status: string; amountMinor: string }) : undefined;
    }, 'the order');

  const orderOf = async (who: SignedIn, id: string) => {
    const seen = await stack.graphql(ORDER, { id }, who.headers);
    expect(seen.body.errors).toBeUndefined();
    return seen.body.data!.order;
  };

  const books = async () => {
    const seen = await stack.graphql(BOOKS, undefined, admin.headers);
    expect(seen.body.errors).toBeUndefined();
    const { balanced, providers } = seen.body.data!.ledgerBalances as {
      balanced: boolean;
      providers: Array<{ provider: string; netMinor: string }>;
    };
    return { balanced, net: (provider: string) => providers.find((p) => p.provider === provider)?.netMinor };
  };

  it('pays an approved request by card: signed webhook → order PAID once however often it is delivered, request goes on', async () => {
    const requestId = await approvedRequest();
    const order = await orderFor(linus);
    expect(order).toMatchObject({ status: 'PENDING', amountMinor: '4900', currency: 'EUR' });

    const refused = await stack.graphql(CHECKOUT, { orderId: order.id }, ada.headers);
    expect(refused.body.data!.createCheckoutSession).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    const checkout = await stack.graphql(CHECKOUT, { orderId: order.id }, linus.headers);
    expect(checkout.body.errors).toBeUndefined();
    const { url, sessionId } = checkout.body.data!.createCheckoutSession;
    expect(checkout.body.data!.createCheckoutSession.ok).toBe(true);
    expect(url).toBe(`${stripe.url}/pay/${sessionId}`);
    expect(stripe.session(sessionId)).toMatchObject({
      amount_total: 4900,
      currency: 'eur',
      client_reference_id: order.id,
    });

    // The buyer pays on Stripe's page; Stripe sends checkout.session.completed.
    const completed = stripe.paySession(sessionId);
    const webhook = `${stack.url}/webhooks/stripe`;

    // Signed with another secret: refused, nothing changes.
    const forged = await stripe.deliver(webhook, completed, { secret: 'whsec_not-ours' });
    expect(forged.status).toBe(400);
    expect((await orderOf(linus, order.id)).status).toBe('PENDING');

    // Stripe retries: the same event three times.
    const deliveries = [];
    for (let i = 0; i < 3; i += 1) deliveries.push(await stripe.deliver(webhook, completed));
    expect(deliveries.map((response) => response.status)).toEqual([200, 200, 200]);
    const paid = await until(async () => {
      const current = await orderOf(linus, order.id);
      return current.status === 'PAID' ? current : undefined;
    }, 'the order to be PAID');
    expect(paid.invoice.number).toMatch(/^SYM-\d{4}-\d{6}$/);

    // The same payment's own event, then an older event about the session arriving late: nothing more.
    const intentId = String(stripe.session(sessionId)!.payment_intent);
    const intentEvent = stripe.event('payment_intent.succeeded', stripe.paymentIntent(intentId)!);
    expect(await (await stripe.deliver(webhook, intentEvent)).json()).toMatchObject({ outcome: 'DUPLICATE' });
    const older = stripe.event(
      'checkout.session.expired',
      stripe.session(sessionId)!,
      completed.created - 120,
    );
    expect(await (await stripe.deliver(webhook, older)).json()).toMatchObject({ outcome: 'STALE' });

    const after = await orderOf(linus, order.id);
    expect(after.status).toBe('PAID');
    expect(after.invoice.number).toBe(paid.invoice.number);
    expect(after.payments).toEqual([
      { provider: 'STRIPE', providerPaymentId: intentId, amountMinor: '4900' },
    ]);
    const ledger = await books();
    expect(ledger.balanced).toBe(true);
    // One set of ledger lines: the card cash account moved by the price once.
    expect(ledger.net('STRIPE')).toBe('4900');

    // The invoice PDF, through the gateway's /invoices/ route with the short-lived signed link only its buyer
    // is given.
    const withPdf = await stack.graphql(
      'query ($id: ID!) { order(id: $id) { invoice { number pdfUrl } } }',
      { id: order.id },
      linus.headers,
    );
    const pdfUrl = withPdf.body.data!.order.invoice.pdfUrl as string;
    expect(new URL(pdfUrl).origin).toBe(stack.url);
    const pdf = await until(async () => {
      const response = await fetch(pdfUrl);
      return response.status === 200 ? response : undefined;
    }, 'the invoice PDF');
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');
    const forgedLink = new URL(pdfUrl);
    forgedLink.searchParams.set('sig', 'x'.repeat(43));
    expect((await fetch(forgedLink)).status).not.toBe(200);

    // certification consumed PaymentSettled: the request went on to issuance, and is issued (its batch
    // anchored on the local chain).
    await until(
      async () => ((await requestStatus(requestId)) === 'ISSUED' ? true : undefined),
      'the paid request to be ISSUED',
    );
  });

  it('pays by PayPal: create → approve on PayPal → capture → PAID; webhooks verified; refunded by an administrator', async () => {
    const order = await orderFor(ada);
    const created = await stack.graphql(PAYPAL_ORDER, { orderId: order.id }, ada.headers);
    expect(created.body.errors).toBeUndefined();
    const { paypalOrderId, approveUrl } = created.body.data!.createPayPalOrder;
    expect(approveUrl).toBe(`${paypal.url}/checkoutnow?token=${paypalOrderId}`);

    const early = await stack.graphql(PAYPAL_CAPTURE, { orderId: order.id }, ada.headers);
    expect(early.body.data!.capturePayPalOrder).toMatchObject({ ok: false, error: { code: 'NOT_APPROVED' } });
    paypal.approve(paypalOrderId);
    const captured = await stack.graphql(PAYPAL_CAPTURE, { orderId: order.id }, ada.headers);
    expect(captured.body.data!.capturePayPalOrder).toMatchObject({
      ok: true,
      captureStatus: 'COMPLETED',
      order: { status: 'PAID' },
    });
    const captureId = captured.body.data!.capturePayPalOrder.captureId as string;

    const webhook = `${stack.url}/webhooks/paypal`;
    const event = paypal.event('PAYMENT.CAPTURE.COMPLETED', 'capture', paypal.capture(captureId)!);
    expect((await paypal.deliver(webhook, event, { tamper: true })).status).toBe(400);
    const delivered = await paypal.deliver(webhook, event);
    expect(delivered.status).toBe(200);
    expect(await delivered.json()).toMatchObject({ outcome: 'DUPLICATE' });
    const paid = await orderOf(ada, order.id);
    expect(paid.payments).toEqual([
      { provider: 'PAYPAL', providerPaymentId: captureId, amountMinor: '4900' },
    ]);
    expect(paid.invoice.number).toMatch(/^SYM-\d{4}-\d{6}$/);
    expect((await books()).net('PAYPAL')).toBe('4900');

    const refund = await stack.graphql(
      'mutation ($orderId: ID!) { refundPayment(orderId: $orderId, reason: "changed their mind") { ok error { code message } refundStatus order { status } } }',
      { orderId: order.id },
      admin.headers,
    );
    expect(refund.body.errors).toBeUndefined();
    expect(refund.body.data!.refundPayment).toMatchObject({
      ok: true,
      refundStatus: 'COMPLETED',
      order: { status: 'REFUNDED' },
    });
    const ledger = await books();
    expect(ledger.balanced).toBe(true);
    expect(ledger.net('PAYPAL')).toBe('0');
  });
});

describe('without provider keys', () => {
  let stack: TestStack;
  let linus: SignedIn;
  let professional: string;

  beforeAll(async () => {
    stack = await startTestStack({ PAYMENTS_PORT: '0' });
    linus = await signIn(stack.graphql, devKeys.linus);
    const programme = await stack.graphql('{ programme(slug: "professional") { id } }');
    professional = programme.body.data!.programme.id as string;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('reports card and PayPal payments unavailable, and their webhooks 503', async () => {
    const order = await until(async () => {
      const created = await stack.graphql(
        'mutation ($input: CreateOrderInput!) { createOrder(input: $input) { ok order { id } } }',
        { input: { programmeId: professional } },
        linus.headers,
      );
      return created.body.data?.createOrder.ok
        ? (created.body.data.createOrder.order as { id: string })
        : undefined;
    }, 'the order');
    const card = await stack.graphql(CHECKOUT, { orderId: order.id }, linus.headers);
    expect(card.body.data!.createCheckoutSession).toMatchObject({
      ok: false,
      error: { code: 'PROVIDER_UNAVAILABLE' },
    });
    const payPal = await stack.graphql(PAYPAL_ORDER, { orderId: order.id }, linus.headers);
    expect(payPal.body.data!.createPayPalOrder).toMatchObject({
      ok: false,
      error: { code: 'PROVIDER_UNAVAILABLE' },
    });
    const webhook = await fetch(`${stack.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
      body: '{}',
    });
    expect(webhook.status).toBe(503);
  });
});
