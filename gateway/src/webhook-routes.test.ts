import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { createLogger, createMemoryCache } from '@symbeon/kernel';
import { parse } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseGatewayEnv } from './env.js';
import { startGateway, type Gateway } from './gateway.js';

const logger = createLogger('webhook-routes-test', { level: 'silent' });

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** node:http rather than fetch: the test controls every header and byte sent. */
function call(
  base: string,
  pathname: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      new URL(pathname, base),
      { method: options.method ?? 'POST', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('POST /webhooks/stripe and /webhooks/paypal pass through to the payments subgraph', () => {
  let payments: Server;
  let received: Received[] = [];
  let gateway: Gateway;
  let folder: string;

  beforeAll(async () => {
    // Stands in for the payments subgraph: records what reaches it and answers like its webhook routes.
    payments = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
        });
        res.writeHead(200, { 'content-type': 'application/json', 'x-internal-detail': 'kept inside' });
        res.end('{"received":true}');
      });
    });
    await new Promise<void>((resolve) => payments.listen(0, '127.0.0.1', resolve));
    const paymentsUrl = `http://127.0.0.1:${(payments.address() as AddressInfo).port}`;
    const composed = composeServices([
      { name: 'payments', url: `${paymentsUrl}/graphql`, typeDefs: parse('type Query { ping: String }') },
    ]);
    if (composed.errors) throw composed.errors[0];
    folder = await mkdtemp(path.join(tmpdir(), 'symbeon-webhook-routes-'));
    const supergraphPath = path.join(folder, 'supergraph.graphql');
    await writeFile(supergraphPath, composed.supergraphSdl);
    gateway = await startGateway({
      env: parseGatewayEnv({
        PORT: '0',
        LOG_LEVEL: 'silent',
        DATA_DIR: folder,
        SUPERGRAPH_PATH: supergraphPath,
        INTERNAL_AUTH_SECRET: 'x'.repeat(48),
        RATE_LIMITS: 'ANONYMOUS:8/1000000',
      }),
      logger,
      cache: createMemoryCache(),
    });
  });

  beforeEach(() => {
    received = [];
  });

  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => payments?.close(resolve));
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('forwards the body byte for byte with the Stripe signature, and no credentials', async () => {
    // Whitespace and key order a JSON re-serialisation would lose: the signature covers these bytes.
    const body = Buffer.from(
      '{\n  "id": "evt_1",  "object":"event", "amount": 4900.0, "name": "caf\u00e9"\n}\n',
    );
    const answer = await call(gateway.url, '/webhooks/stripe', {
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'stripe-signature': 't=1,v1=abc',
        authorization: 'Bearer someone-elses-token',
        'x-symbeon-internal': 'forged',
        'paypal-transmission-id': 'not for this route',
      },
      body,
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ received: true });
    expect(answer.headers['x-internal-detail']).toBeUndefined();
    expect(received).toHaveLength(1);
    const [forwarded] = received;
    expect(forwarded!.method).toBe('POST');
    expect(forwarded!.url).toBe('/webhooks/stripe');
    expect(forwarded!.body.equals(body)).toBe(true);
    expect(forwarded!.headers['stripe-signature']).toBe('t=1,v1=abc');
    expect(forwarded!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(forwarded!.headers.authorization).toBeUndefined();
    expect(forwarded!.headers['x-symbeon-internal']).toBeUndefined();
    expect(forwarded!.headers['paypal-transmission-id']).toBeUndefined();
    expect(forwarded!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it("forwards PayPal's transmission headers", async () => {
    const paypal = {
      'paypal-transmission-id': 'a1b2',
      'paypal-transmission-time': '2026-11-29T10:00:00Z',
      'paypal-transmission-sig': 'c2lnbmF0dXJl',
      'paypal-cert-url': 'https://api.paypal.com/v1/notifications/certs/CERT-1',
      'paypal-auth-algo': 'SHA256withRSA',
    };
    const body = Buffer.from('{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}');
    const answer = await call(gateway.url, '/webhooks/paypal', {
      headers: { 'content-type': 'application/json', 'stripe-signature': 'not for this route', ...paypal },
      body,
    });
    expect(answer.status).toBe(200);
    expect(received).toHaveLength(1);
    expect(received[0]!.url).toBe('/webhooks/paypal');
    expect(received[0]!.body.equals(body)).toBe(true);
    expect(received[0]!.headers).toMatchObject(paypal);
    expect(received[0]!.headers['stripe-signature']).toBeUndefined();
  });

  it('refuses other methods and bodies over the limit before they reach payments; limits rates per address', async () => {
    const get = await call(gateway.url, '/webhooks/stripe', { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const large = await call(gateway.url, '/webhooks/paypal', {
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(600 * 1024, 0x20),
    });
    expect(large.status).toBe(413);
    expect(received).toHaveLength(0);
    // 8 requests per window for anonymous addresses; the earlier tests used some.
    let limited: Answer | undefined;
    for (let attempt = 0; attempt < 10 && !limited; attempt += 1) {
      const answer = await call(gateway.url, '/webhooks/stripe', { body: Buffer.from('{}') });
      if (answer.status === 429) limited = answer;
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
  });
});
