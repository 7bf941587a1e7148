import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';

type Json = Record<string, any>;

export interface FakePayPalRequest {
  method: string;
  path: string;
  requestId: string | undefined;
  body: Json | undefined;
}

export interface FakePayPalEvent {
  id: string;
  event_version: '1.0';
  create_time: string;
  resource_type: string;
  event_type: string;
  summary: string;
  resource: Json;
}

export interface FakePayPal {
  /** Base URL for PAYPAL_API_URL, e.g. http://127.0.0.1:41234 */
  url: string;
  clientId: string;
  clientSecret: string;
  webhookId: string;
  requests: FakePayPalRequest[];
  /** How many access tokens were issued (the client should cache them). */
  tokensIssued(): number;
  order(id: string): Json | undefined;
  capture(id: string): Json | undefined;
  /** What the buyer does on PayPal's approve page. */
  approve(orderId: string): void;
  /** The status the next capture gets (default COMPLETED): PENDING models an eCheck or a review hold. */
  nextCaptureStatus: 'COMPLETED' | 'PENDING' | 'DECLINED';
  /** A pending capture clearing later; returns the PAYMENT.CAPTURE.COMPLETED event PayPal then sends. */
  completeCapture(captureId: string): FakePayPalEvent;
  event(eventType: string, resourceType: string, resource: Json): FakePayPalEvent;
  /** The exact body and transmission headers PayPal would send for the event (`tamper`: a wrong signature). */
  sign(
    event: FakePayPalEvent,
    options?: { tamper?: boolean },
  ): { body: string; headers: Record<string, string> };
  /**
   * POSTs the event the way PayPal delivers webhooks: its JSON bytes with the transmission headers. The
   * signature is one this fake's verify-webhook-signature endpoint accepts for this exact body and the
   * configured webhook id (`tamper` alters the signature, to test refusals).
   */
  deliver(url: string, event: FakePayPalEvent, options?: { tamper?: boolean }): Promise<Response>;
  stop(): Promise<void>;
}

const paypalId = () => randomBytes(9).toString('hex').toUpperCase().slice(0, 17);
const iso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A small local PayPal speaking the Orders v2 endpoints the payments subgraph uses over plain HTTP
 * (PAYPAL_API_URL): OAuth2 client credentials, orders (create with PayPal-Request-Id, get, capture),
 * captures (get, refund), refunds (get) and verify-webhook-signature. PayPal signs webhooks with its
 * certificate; here the signature is an HMAC over the same fields PayPal signs (transmission id, time, webhook
 * id, CRC32 of the body), which only this server can check — as only PayPal can check its own.
 */
export async function startFakePayPal(options: { webhookId?: string } = {}): Promise<FakePayPal> {
  const clientId = `client-${randomBytes(6).toString('hex')}`;
  const clientSecret = randomBytes(18).toString('base64url');
  const webhookId = options.webhookId ?? `WH-${paypalId()}`;
  const signingKey = randomBytes(32);
  const certUrl = 'https://api.paypal.invalid/v1/notifications/certs/CERT-fake';
  const tokens = new Set<string>();
  const orders = new Map<string, Json>();
  const captures = new Map<string, Json & { orderId: string }>();
  const refunds = new Map<string, Json>();
  const idempotent = new Map<string, { status: number; body: unknown }>();
  const requests: FakePayPalRequest[] = [];

  const sign = (transmissionId: string, time: string, forWebhook: string, body: string) =>
    createHmac('sha256', signingKey)
      .update(`${transmissionId}|${time}|${forWebhook}|${crc32(Buffer.from(body, 'utf8'))}`)
      .digest('base64');

  const problem = (status: number, name: string, issue?: string) => ({
    status,
    body: {
      name,
      message: issue ?? name,
      debug_id: randomBytes(6).toString('hex'),
      ...(issue ? { details: [{ issue, description: issue }] } : {}),
    },
  });
  const link = (path: string, rel: string, method = 'GET') => ({ href: `${fake.url}${path}`, rel, method });

  const orderView = (order: Json) => ({
    id: order.id,
    intent: order.intent,
    status: order.status,
    purchase_units: order.purchase_units,
    create_time: order.create_time,
    links: [
      link(`/v2/checkout/orders/${order.id}`, 'self'),
      ...(order.status === 'CREATED'
        ? [
            { href: `${fake.url}/checkoutnow?token=${order.id}`, rel: 'approve', method: 'GET' },
            link(`/v2/checkout/orders/${order.id}/capture`, 'capture', 'POST'),
          ]
        : []),
    ],
  });
  const captureView = (capture: Json) => {
    const { orderId, ...view } = capture;
    return {
      ...view,
      supplementary_data: { related_ids: { order_id: orderId } },
      links: [
        link(`/v2/payments/captures/${capture.id}`, 'self'),
        link(`/v2/payments/captures/${capture.id}/refund`, 'refund', 'POST'),
        link(`/v2/checkout/orders/${orderId}`, 'up'),
      ],
    };
  };

  const createOrder = (body: Json) => {
    const unit = body.purchase_units?.[0];
    if (
      body.intent !== 'CAPTURE' ||
      !unit?.amount?.currency_code ||
      !/^\d+(\.\d+)?$/.test(unit.amount.value ?? '')
    )
      return problem(400, 'INVALID_REQUEST', 'INVALID_PARAMETER_VALUE');
    const order = {
      id: paypalId(),
      intent: 'CAPTURE',
      status: 'CREATED',
      purchase_units: [{ reference_id: unit.reference_id ?? 'default', ...unit }],
      create_time: iso(),
    };
    orders.set(order.id, order);
    return { status: 201, body: orderView(order) };
  };

  const captureOrder = (orderId: string) => {
    const order = orders.get(orderId);
    if (!order) return problem(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
    if (order.status === 'COMPLETED') return problem(422, 'UNPROCESSABLE_ENTITY', 'ORDER_ALREADY_CAPTURED');
    if (order.status !== 'APPROVED') return problem(422, 'UNPROCESSABLE_ENTITY', 'ORDER_NOT_APPROVED');
    const unit = order.purchase_units[0];
    const capture = {
      id: paypalId(),
      orderId,
      status: fake.nextCaptureStatus,
      ...(fake.nextCaptureStatus === 'PENDING' ? { status_details: { reason: 'PENDING_REVIEW' } } : {}),
      amount: { ...unit.amount },
      final_capture: true,
      custom_id: unit.custom_id,
      invoice_id: unit.invoice_id,
      create_time: iso(),
      update_time: iso(),
    };
    captures.set(capture.id, capture);
    order.status = 'COMPLETED';
    unit.payments = { captures: [captureView(capture)] };
    return { status: 201, body: orderView(order) };
  };

  const refundCapture = (captureId: string, body: Json | undefined) => {
    const capture = captures.get(captureId);
    if (!capture) return problem(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
    if (capture.status !== 'COMPLETED') return problem(422, 'UNPROCESSABLE_ENTITY', 'CAPTURE_FULLY_REFUNDED');
    const refund = {
      id: paypalId(),
      status: 'COMPLETED',
      amount: body?.amount ?? { ...capture.amount },
      note_to_payer: body?.note_to_payer,
      create_time: iso(),
      links: [link(`/v2/payments/captures/${captureId}`, 'up')],
    };
    refunds.set(refund.id, {
      ...refund,
      links: [...refund.links, link(`/v2/payments/refunds/${refund.id}`, 'self')],
    });
    if (refund.amount.value === capture.amount.value) capture.status = 'REFUNDED';
    return { status: 201, body: refunds.get(refund.id) };
  };

  const verify = (body: Json | undefined, raw: string) => {
    // The event must be the bytes delivered: PayPal checks the signature over the CRC32 of the body.
    const eventText = /"webhook_event"\s*:\s*([\s\S]*)}\s*$/.exec(raw)?.[1];
    if (!body || !eventText) return problem(400, 'INVALID_REQUEST', 'MISSING_REQUIRED_PARAMETER');
    const expected = sign(body.transmission_id, body.transmission_time, body.webhook_id, eventText);
    const given = Buffer.from(String(body.transmission_sig ?? ''), 'base64');
    const good =
      body.auth_algo === 'SHA256withRSA' &&
      body.cert_url === certUrl &&
      body.webhook_id === webhookId &&
      given.length === 32 &&
      timingSafeEqual(given, Buffer.from(expected, 'base64'));
    return { status: 200, body: { verification_status: good ? 'SUCCESS' : 'FAILURE' } };
  };

  const route = (method: string, path: string, body: Json | undefined, raw: string) => {
    let match: RegExpExecArray | null;
    if (method === 'POST' && path === '/v2/checkout/orders') return createOrder(body ?? {});
    if ((match = /^\/v2\/checkout\/orders\/([^/]+)\/capture$/.exec(path)) && method === 'POST')
      return captureOrder(match[1]!);
    if ((match = /^\/v2\/checkout\/orders\/([^/]+)$/.exec(path)) && method === 'GET') {
      const order = orders.get(match[1]!);
      return order
        ? { status: 200, body: orderView(order) }
        : problem(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
    }
    if ((match = /^\/v2\/payments\/captures\/([^/]+)\/refund$/.exec(path)) && method === 'POST')
      return refundCapture(match[1]!, body);
    if ((match = /^\/v2\/payments\/captures\/([^/]+)$/.exec(path)) && method === 'GET') {
      const capture = captures.get(match[1]!);
      return capture
        ? { status: 200, body: captureView(capture) }
        : problem(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
    }
    if ((match = /^\/v2\/payments\/refunds\/([^/]+)$/.exec(path)) && method === 'GET') {
      const refund = refunds.get(match[1]!);
      return refund
        ? { status: 200, body: refund }
        : problem(404, 'RESOURCE_NOT_FOUND', 'INVALID_RESOURCE_ID');
    }
    if (method === 'POST' && path === '/v1/notifications/verify-webhook-signature') return verify(body, raw);
    return problem(404, 'NOT_FOUND');
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'paypal-debug-id': paypalId() });
        res.end(JSON.stringify(body));
      };
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://paypal.invalid').pathname;
      if (req.method === 'POST' && path === '/v1/oauth2/token') {
        const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
        if (
          req.headers.authorization !== basic ||
          new URLSearchParams(raw).get('grant_type') !== 'client_credentials'
        )
          return send(401, { error: 'invalid_client', error_description: 'Client Authentication failed' });
        const token = `A21AA${randomBytes(24).toString('base64url')}`;
        tokens.add(token);
        return send(200, {
          scope: 'https://uri.paypal.com/services/payments',
          access_token: token,
          token_type: 'Bearer',
          app_id: 'APP-FAKE',
          expires_in: 32400,
          nonce: paypalId(),
        });
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer || !tokens.has(bearer))
        return send(401, {
          name: 'AUTHENTICATION_FAILURE',
          message: 'Authentication failed due to invalid authentication credentials',
        });
      let body: Json | undefined;
      try {
        body = raw ? (JSON.parse(raw) as Json) : undefined;
      } catch {
        return send(400, { name: 'INVALID_REQUEST', message: 'malformed JSON' });
      }
      const requestId = req.headers['paypal-request-id'] as string | undefined;
      requests.push({ method: req.method ?? 'GET', path, requestId, body });
      const key = requestId && req.method === 'POST' ? `${path} ${requestId}` : undefined;
      const replay = key ? idempotent.get(key) : undefined;
      if (replay) return send(replay.status, replay.body);
      const answer = route(req.method ?? 'GET', path, body, raw);
      // PayPal keeps the answers of requests that succeeded.
      if (key && answer.status < 300) idempotent.set(key, answer);
      send(answer.status, answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const event = (eventType: string, resourceType: string, resource: Json): FakePayPalEvent => ({
    id: `WH-${paypalId()}-${paypalId()}`,
    event_version: '1.0',
    create_time: iso(),
    resource_type: resourceType,
    event_type: eventType,
    summary: eventType,
    resource: structuredClone(resource),
  });

  const fake: FakePayPal = {
    url: `http://127.0.0.1:${port}`,
    clientId,
    clientSecret,
    webhookId,
    requests,
    tokensIssued: () => tokens.size,
    order: (orderId) => orders.get(orderId),
    capture: (captureId) => {
      const capture = captures.get(captureId);
      return capture && captureView(capture);
    },
    approve(orderId) {
      const order = orders.get(orderId);
      if (!order) throw new Error(`no PayPal order ${orderId}`);
      if (order.status === 'CREATED') order.status = 'APPROVED';
    },
    nextCaptureStatus: 'COMPLETED',
    completeCapture(captureId) {
      const capture = captures.get(captureId);
      if (!capture) throw new Error(`no capture ${captureId}`);
      capture.status = 'COMPLETED';
      delete capture.status_details;
      capture.update_time = iso();
      return event('PAYMENT.CAPTURE.COMPLETED', 'capture', captureView(capture));
    },
    event,
    sign(signed, signOptions = {}) {
      const body = JSON.stringify(signed);
      const transmissionId = randomBytes(16).toString('hex');
      const time = iso();
      const signature = sign(transmissionId, time, webhookId, signOptions.tamper ? `${body} ` : body);
      return {
        body,
        headers: {
          'content-type': 'application/json',
          'paypal-transmission-id': transmissionId,
          'paypal-transmission-time': time,
          'paypal-transmission-sig': signature,
          'paypal-cert-url': certUrl,
          'paypal-auth-algo': 'SHA256withRSA',
        },
      };
    },
    async deliver(url, delivered, deliverOptions = {}) {
      const { body, headers } = fake.sign(delivered, deliverOptions);
      return fetch(url, { method: 'POST', headers, body });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
