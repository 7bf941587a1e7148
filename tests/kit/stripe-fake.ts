import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/** A Stripe API object as the fake keeps it (snake_case, as Stripe sends it). */
type StripeObject = Record<string, unknown> & { id: string; object: string };

export interface FakeStripeRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeStripeEvent {
  id: string;
  object: 'event';
  type: string;
  created: number;
  api_version: string;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  data: { object: StripeObject };
}

export interface FakeStripe {
  /** Base URL for STRIPE_API_URL, e.g. http://127.0.0.1:41234 */
  url: string;
  secretKey: string;
  webhookSecret: string;
  /** Every API request received, in order (the SDK's form bodies decoded). */
  requests: FakeStripeRequest[];
  session(id: string): StripeObject | undefined;
  paymentIntent(id: string): StripeObject | undefined;
  /**
   * What Stripe does when the customer pays on the hosted page: a succeeded PaymentIntent with its charge, the
   * session `complete` and `paid`. `amount`/`currency` override what was charged (to test mismatches).
   * Returns the `checkout.session.completed` event Stripe would then send (not delivered).
   */
  paySession(id: string, options?: { amount?: number; currency?: string }): FakeStripeEvent;
  /** A custom card form's payment going through: the intent succeeded with its charge; returns `payment_intent.succeeded`. */
  succeedPaymentIntent(id: string): FakeStripeEvent;
  /** A refund made outside the API (e.g. in the dashboard); returns the `charge.refunded` event. */
  refundOutside(paymentIntentId: string, amount?: number): FakeStripeEvent;
  /** An event of `type` carrying a copy of `object`; `created` (seconds) defaults to now. */
  event(type: string, object: StripeObject, created?: number): FakeStripeEvent;
  /** The exact bytes and `Stripe-Signature` header Stripe would send for the event. */
  sign(
    event: FakeStripeEvent,
    options?: { secret?: string; timestamp?: number },
  ): { payload: string; signature: string };
  /**
   * POSTs the event to `url` the way Stripe delivers webhooks: the exact JSON bytes and a `Stripe-Signature`
   * made with the SDK's own signing function (`secret` overrides the webhook secret, to test bad signatures).
   */
  deliver(
    url: string,
    event: FakeStripeEvent,
    options?: { secret?: string; timestamp?: number },
  ): Promise<Response>;
  stop(): Promise<void>;
}

/** Decodes Stripe's form encoding (`line_items[0][price_data][currency]=eur`) into nested objects/arrays. */
export function decodeStripeForm(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const parts = rawKey.split(/\[|\]\[|\]/).filter((part, index) => index === 0 || part !== '');
    let node: Record<string, unknown> | unknown[] = root;
    parts.forEach((part, index) => {
      const last = index === parts.length - 1;
      const nextIsIndex = /^\d+$/.test(parts[index + 1] ?? '');
      const container = node as Record<string, unknown>;
      if (last) container[part] = value;
      else {
        container[part] ??= nextIsIndex ? [] : {};
        node = container[part] as Record<string, unknown>;
      }
    });
  }
  return root;
}

const id = (prefix: string) => `${prefix}_test_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

/**
 * A small local Stripe speaking the few endpoints the payments subgraph uses, driven by the real `stripe` SDK
 * (STRIPE_API_URL): Checkout Sessions (create with idempotency keys, retrieve), PaymentIntents (create,
 * retrieve), refunds (create, list) and charges. Stripe cannot be reached from tests; webhooks are signed with
 * the SDK's real `generateTestHeaderString`, so the subgraph's `constructEvent` checks them as in production.
 */
export async function startFakeStripe(
  options: { secretKey?: string; webhookSecret?: string } = {},
): Promise<FakeStripe> {
  const secretKey = options.secretKey ?? `sk_test_${randomBytes(16).toString('hex')}`;
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(24).toString('base64url')}`;
  const objects = new Map<string, StripeObject>();
  const idempotent = new Map<string, { status: number; body: unknown }>();
  const requests: FakeStripeRequest[] = [];
  const signer = new Stripe(secretKey);

  const error = (status: number, message: string, code = 'resource_missing') => ({
    status,
    body: { error: { type: 'invalid_request_error', code, message } },
  });

  const createSession = (body: Record<string, unknown>) => {
    const items = (body.line_items ?? []) as Array<Record<string, any>>;
    let amount = 0;
    let currency: string | undefined;
    for (const item of items) {
      const quantity = Number(item.quantity ?? 1);
      amount += Number(item.price_data?.unit_amount ?? 0) * quantity;
      currency ??= item.price_data?.currency as string | undefined;
    }
    if (body.mode !== 'payment' || !currency || amount <= 0)
      return error(400, 'mode payment with priced line items is required', 'parameter_missing');
    const session: StripeObject = {
      id: id('cs'),
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_total: amount,
      amount_subtotal: amount,
      currency,
      client_reference_id: body.client_reference_id ?? null,
      metadata: body.metadata ?? {},
      payment_intent: null,
      success_url: body.success_url ?? null,
      cancel_url: body.cancel_url ?? null,
      customer_email: body.customer_email ?? null,
      created: now(),
      expires_at: now() + 24 * 3600,
      livemode: false,
      url: null as string | null,
    };
    session.url = `${fake.url}/pay/${session.id}`;
    objects.set(session.id, session);
    return { status: 200, body: session };
  };

  const createPaymentIntent = (body: Record<string, unknown>, status = 'requires_payment_method') => {
    const intent: StripeObject = {
      id: id('pi'),
      object: 'payment_intent',
      amount: Number(body.amount),
      amount_received: 0,
      currency: String(body.currency),
      status,
      metadata: body.metadata ?? {},
      latest_charge: null,
      created: now(),
      livemode: false,
      client_secret: '',
    };
    intent.client_secret = `${intent.id}_secret_${randomBytes(8).toString('hex')}`;
    objects.set(intent.id, intent);
    return intent;
  };

  const succeedIntent = (intent: StripeObject, amount: number) => {
    const charge: StripeObject = {
      id: id('ch'),
      object: 'charge',
      amount,
      amount_captured: amount,
      amount_refunded: 0,
      currency: intent.currency,
      paid: true,
      refunded: false,
      status: 'succeeded',
      payment_intent: intent.id,
      metadata: intent.metadata,
      created: now(),
    };
    objects.set(charge.id, charge);
    Object.assign(intent, { status: 'succeeded', amount_received: amount, latest_charge: charge.id });
    return charge;
  };

  const createRefund = (body: Record<string, unknown>) => {
    const intentId = typeof body.payment_intent === 'string' ? body.payment_intent : '';
    const intent = objects.get(intentId);
    if (!intent || intent.object !== 'payment_intent')
      return error(404, `No such payment_intent: '${intentId}'`);
    const charge = objects.get(String(intent.latest_charge));
    if (!charge) return error(400, 'This PaymentIntent has no successful charge', 'charge_not_found');
    const remaining = Number(charge.amount) - Number(charge.amount_refunded);
    const amount = body.amount === undefined ? remaining : Number(body.amount);
    if (amount <= 0 || amount > remaining)
      return error(400, 'Refund amount exceeds the refundable amount', 'amount_too_large');
    const refund: StripeObject = {
      id: id('re'),
      object: 'refund',
      amount,
      currency: charge.currency,
      charge: charge.id,
      payment_intent: intent.id,
      status: 'succeeded',
      reason: body.reason ?? null,
      metadata: body.metadata ?? {},
      created: now(),
    };
    objects.set(refund.id, refund);
    const refunded = Number(charge.amount_refunded) + amount;
    Object.assign(charge, { amount_refunded: refunded, refunded: refunded === Number(charge.amount) });
    return { status: 200, body: refund };
  };

  const listRefunds = (query: URLSearchParams) => {
    const intent = query.get('payment_intent');
    const charge = query.get('charge');
    const data = [...objects.values()].filter(
      (object) =>
        object.object === 'refund' &&
        (!intent || object.payment_intent === intent) &&
        (!charge || object.charge === charge),
    );
    return { status: 200, body: { object: 'list', data, has_more: false, url: '/v1/refunds' } };
  };

  const route = (method: string, path: string, query: URLSearchParams, body: Record<string, unknown>) => {
    const retrieve = (prefix: string, type: string) => {
      const object = objects.get(path.slice(prefix.length));
      return object?.object === type
        ? { status: 200, body: object }
        : error(404, `No such ${type}: '${path.slice(prefix.length)}'`);
    };
    if (method === 'POST' && path === '/v1/checkout/sessions') return createSession(body);
    if (method === 'GET' && path.startsWith('/v1/checkout/sessions/'))
      return retrieve('/v1/checkout/sessions/', 'checkout.session');
    if (method === 'POST' && path === '/v1/payment_intents') {
      if (!body.amount || !body.currency)
        return error(400, 'amount and currency are required', 'parameter_missing');
      return { status: 200, body: createPaymentIntent(body) };
    }
    if (method === 'GET' && path.startsWith('/v1/payment_intents/'))
      return retrieve('/v1/payment_intents/', 'payment_intent');
    if (method === 'GET' && path.startsWith('/v1/charges/')) return retrieve('/v1/charges/', 'charge');
    if (method === 'POST' && path === '/v1/refunds') return createRefund(body);
    if (method === 'GET' && path === '/v1/refunds') return listRefunds(query);
    if (method === 'GET' && path.startsWith('/v1/refunds/')) return retrieve('/v1/refunds/', 'refund');
    return error(404, `Unrecognized request URL (${method}: ${path})`, 'unrecognized_url');
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${secretKey}`) {
        return send(401, {
          error: { type: 'invalid_request_error', message: 'Invalid API Key provided' },
        });
      }
      const url = new URL(req.url ?? '/', 'http://stripe.invalid');
      const body = decodeStripeForm(Buffer.concat(chunks).toString('utf8'));
      const key = req.headers['idempotency-key'] as string | undefined;
      requests.push({ method: req.method ?? 'GET', path: url.pathname, idempotencyKey: key, body });
      // Stripe replays the first answer to a key for 24 h (the same parameters are assumed here).
      const replay = key && req.method === 'POST' ? idempotent.get(`${url.pathname} ${key}`) : undefined;
      if (replay) return send(replay.status, replay.body);
      const answer = route(req.method ?? 'GET', url.pathname, url.searchParams, body);
      if (key && req.method === 'POST') idempotent.set(`${url.pathname} ${key}`, answer);
      send(answer.status, answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const event = (type: string, object: StripeObject, created = now()): FakeStripeEvent => ({
    id: id('evt'),
    object: 'event',
    type,
    created,
    api_version: '2026-10-28.endive',
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object: structuredClone(object) },
  });

  const fake: FakeStripe = {
    url: `http://127.0.0.1:${port}`,
    secretKey,
    webhookSecret,
    requests,
    session: (sessionId) => objects.get(sessionId),
    paymentIntent: (intentId) => objects.get(intentId),
    paySession(sessionId, overrides = {}) {
      const session = objects.get(sessionId);
      if (!session || session.object !== 'checkout.session') throw new Error(`no session ${sessionId}`);
      const amount = overrides.amount ?? Number(session.amount_total);
      const intent = createPaymentIntent(
        { amount, currency: overrides.currency ?? session.currency, metadata: session.metadata },
        'processing',
      );
      succeedIntent(intent, amount);
      Object.assign(session, {
        status: 'complete',
        payment_status: 'paid',
        payment_intent: intent.id,
        ...(overrides.amount === undefined ? {} : { amount_total: amount }),
        ...(overrides.currency === undefined ? {} : { currency: overrides.currency }),
      });
      return event('checkout.session.completed', session);
    },
    succeedPaymentIntent(intentId) {
      const intent = objects.get(intentId);
      if (!intent || intent.object !== 'payment_intent') throw new Error(`no payment intent ${intentId}`);
      succeedIntent(intent, Number(intent.amount));
      return event('payment_intent.succeeded', intent);
    },
    refundOutside(intentId, amount) {
      const answer = createRefund({ payment_intent: intentId, ...(amount ? { amount } : {}) });
      if (answer.status !== 200) throw new Error(JSON.stringify(answer.body));
      const refund = answer.body as StripeObject;
      return event('charge.refunded', objects.get(String(refund.charge))!);
    },
    event,
    sign(signed, signOptions = {}) {
      const payload = JSON.stringify(signed, null, 2);
      const signature = signer.webhooks.generateTestHeaderString({
        payload,
        secret: signOptions.secret ?? webhookSecret,
        ...(signOptions.timestamp === undefined ? {} : { timestamp: signOptions.timestamp }),
      });
      return { payload, signature };
    },
    async deliver(url, delivered, deliverOptions = {}) {
      const { payload, signature } = fake.sign(delivered, deliverOptions);
      return fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': signature,
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
        body: payload,
      });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
