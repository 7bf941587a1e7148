import { randomBytes, randomUUID } from 'node:crypto';
import {
  createLogger,
  createMemoryEventTransport,
  INTERNAL_TOKEN_HEADER,
  signInternalToken,
  type EventEnvelope,
  type Principal,
} from '@symbeon/kernel';
import { createTestDatabaseTarget } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePaymentsEnv } from './env.js';
import { ProgrammeEvents } from './modules/catalogue/catalogue-consumer.js';
import { startPayments, type PaymentsService } from './service.js';
import { userPrincipal } from './test-fixture.js';

// The payments API as the gateway calls it: the running subgraph, internal tokens, the shield rules, the
// catalogue fed by certification's events on the bus, the invoice download route.
const secret = `payments-graphql-test-${randomBytes(16).toString('hex')}`;
const transport = createMemoryEventTransport();
let service: PaymentsService;
let cleanup: () => Promise<void>;
const programmeId = randomUUID();

beforeAll(async () => {
  const target = await createTestDatabaseTarget();
  cleanup = target.cleanup;
  const env = parsePaymentsEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: target.dataDir,
    ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    PAYMENTS_PORT: '0',
    INTERNAL_AUTH_SECRET: secret,
  });
  service = await startPayments({
    env,
    logger: createLogger('payments-graphql-test', { level: 'silent' }),
    transport,
    modules: [],
  });
  await transport.publish({
    id: randomUUID(),
    type: ProgrammeEvents.Published,
    occurredAt: new Date().toISOString(),
    payload: {
      programmeId,
      slug: 'professional',
      name: 'Professional',
      priceAmountMinor: '4900',
      currency: 'EUR',
    },
  });
  const deadline = Date.now() + 20_000;
  while (!(await service.modules.storage.orders.catalogueItem('programme', programmeId))) {
    if (Date.now() > deadline) throw new Error('catalogue not projected');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 90_000);

afterAll(async () => {
  await service?.stop();
  await cleanup?.();
});

interface Answer {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string } }>;
}

async function graphql(
  as: Principal,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Answer> {
  const response = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [INTERNAL_TOKEN_HEADER]: await signInternalToken(secret, as, randomUUID()),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as Answer;
}

const createOrder = `mutation ($programmeId: ID!) {
  createOrder(input: { programmeId: $programmeId }) {
    ok error { code message field } created order { id status amount amountMinor currency item { type id name } }
  }
}`;
const orderQuery = `query ($id: ID!) {
  order(id: $id) {
    id status amount currency invoice { number total pdfUrl } payments { provider amount outcome }
    statusHistory { from to }
  }
}`;

describe('payments through the subgraph', () => {
  const ada = userPrincipal(randomUUID());
  const admin = userPrincipal(randomUUID(), ['ADMIN']);

  it('creates one order for two createOrder calls and refuses bad input with a coded result', async () => {
    const first = await graphql(ada, createOrder, { programmeId });
    const second = await graphql(ada, createOrder, { programmeId });
    expect(first.data?.createOrder).toMatchObject({
      ok: true,
      created: true,
      order: {
        status: 'PENDING',
        amount: '49.00',
        amountMinor: '4900',
        currency: 'EUR',
        item: { type: 'programme', id: programmeId, name: 'Professional' },
      },
    });
    expect(second.data?.createOrder).toMatchObject({ ok: true, created: false });
    const ids = [first, second].map(
      (answer) => (answer.data?.createOrder as { order: { id: string } }).order.id,
    );
    expect(ids[0]).toBe(ids[1]);
    const unknown = await graphql(ada, createOrder, { programmeId: randomUUID() });
    expect(unknown.data?.createOrder).toMatchObject({
      ok: false,
      error: { code: 'ITEM_NOT_FOUND', field: 'input.programmeId' },
      order: null,
    });
  });

  it("shows an order, its invoice and payments to its buyer and admins only, and serves the buyer's PDF", async () => {
    const published: EventEnvelope[] = [];
    const listener = await transport.subscribe(
      async (event) => {
        published.push(event);
      },
      { group: 'payments-graphql-test', types: ['payments.PaymentSettled'] },
    );
    const created = await graphql(ada, createOrder, { programmeId });
    const orderId = (created.data?.createOrder as { order: { id: string } }).order.id;
    const settled = await service.modules.settlement.settle({
      orderId,
      provider: 'STRIPE',
      providerPaymentId: `pi_${randomUUID()}`,
      amountMinor: 4900n,
      currency: 'EUR',
      receivedAt: new Date(),
    });
    expect(settled).toMatchObject({ ok: true, order: { status: 'PAID' } });
    // The outbox relay publishes the settlement on the bus (certification's payment gate listens).
    const deadline = Date.now() + 10_000;
    while (published.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await listener.close();
    expect(published).toHaveLength(1);
    expect(published[0]?.payload).toMatchObject({
      orderId,
      buyerId: ada.userId,
      item: { type: 'programme', id: programmeId },
      amountMinor: '4900',
      currency: 'EUR',
      provider: 'STRIPE',
    });

    const mine = await graphql(ada, orderQuery, { id: orderId });
    expect(mine.errors).toBeUndefined();
    expect(mine.data?.order).toMatchObject({
      status: 'PAID',
      amount: '49.00',
      invoice: { number: expect.stringMatching(/^SYM-\d{4}-000001$/), total: '49.00' },
      payments: [{ provider: 'STRIPE', amount: '49.00', outcome: 'SETTLED' }],
      statusHistory: [
        { from: null, to: 'PENDING' },
        { from: 'PENDING', to: 'PAID' },
      ],
    });
    expect((await graphql(admin, orderQuery, { id: orderId })).data?.order).toMatchObject({ status: 'PAID' });
    const stranger = await graphql(userPrincipal(randomUUID()), orderQuery, { id: orderId });
    expect(stranger.data?.order ?? null).toBeNull();
    expect(stranger.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await graphql(ada, orderQuery, { id: randomUUID() })).data?.order).toBeNull();

    const invoices = await graphql(
      ada,
      `
        {
          invoices(first: 5) {
            edges {
              node {
                number
                kind
                total
                pdfUrl
              }
            }
            pageInfo {
              hasNextPage
            }
          }
        }
      `,
    );
    const edges = (invoices.data?.invoices as { edges: Array<{ node: { pdfUrl: string; number: string } }> })
      .edges;
    expect(edges).toHaveLength(1);
    const link = new URL(edges[0]?.node.pdfUrl ?? '');
    const pdf = await fetch(`${service.url}${link.pathname}${link.search}`);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');
    const forged = await fetch(`${service.url}${link.pathname}?expires=9999999999&sig=forged`);
    expect(forged.status).toBe(404);

    const payments = await graphql(
      ada,
      `
        {
          payments(first: 1) {
            edges {
              cursor
              node {
                amount
                order {
                  id
                }
              }
            }
            pageInfo {
              hasNextPage
            }
          }
        }
      `,
    );
    expect(payments.data?.payments).toMatchObject({
      edges: [{ node: { amount: '49.00', order: { id: orderId } } }],
    });
    // Another member sees none of it.
    const theirs = await graphql(
      userPrincipal(randomUUID()),
      `
        {
          payments {
            edges {
              node {
                id
              }
            }
          }
          invoices {
            edges {
              node {
                id
              }
            }
          }
        }
      `,
    );
    expect(theirs.data).toEqual({ payments: { edges: [] }, invoices: { edges: [] } });
  });

  it('refuses the connections to anonymous callers and the ledger to non-administrators', async () => {
    const anonymous = await graphql(
      { kind: 'anonymous' },
      `
        {
          payments {
            edges {
              node {
                id
              }
            }
          }
        }
      `,
    );
    expect(anonymous.data ?? null).toBeNull();
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const anonymousInvoices = await graphql(
      { kind: 'anonymous' },
      `
        {
          invoices {
            edges {
              node {
                id
              }
            }
          }
        }
      `,
    );
    expect(anonymousInvoices.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const ledger = `{ ledgerBalances { balanced accounts { account provider currency balanceMinor } providers { provider currency receivedMinor netMinor } } }`;
    const member = await graphql(ada, ledger);
    expect(member.data?.ledgerBalances ?? null).toBeNull();
    expect(member.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const books = await graphql(admin, ledger);
    expect(books.errors).toBeUndefined();
    expect(books.data?.ledgerBalances).toMatchObject({
      balanced: true,
      providers: [{ provider: 'STRIPE', currency: 'EUR', receivedMinor: '4900', netMinor: '4900' }],
    });
    expect((books.data?.ledgerBalances as { accounts: unknown[] }).accounts).toEqual(
      expect.arrayContaining([
        { account: 'cash:stripe', provider: 'STRIPE', currency: 'EUR', balanceMinor: '4900' },
        { account: 'revenue:certification', provider: null, currency: 'EUR', balanceMinor: '-4900' },
      ]),
    );
  });

  it("lists the caller's orders, payments needing review for admins only, and refuses forged cursors", async () => {
    const mine = await graphql(
      ada,
      `
        {
          orders(first: 1) {
            edges {
              node {
                id
                status
              }
            }
            pageInfo {
              hasNextPage
              endCursor
            }
          }
        }
      `,
    );
    expect(mine.errors).toBeUndefined();
    const page = mine.data?.orders as {
      edges: unknown[];
      pageInfo: { hasNextPage: boolean; endCursor: string };
    };
    expect(page.edges).toHaveLength(1);
    const next = await graphql(
      ada,
      `
        query ($after: String) {
          orders(first: 5, after: $after) {
            edges {
              node {
                id
              }
            }
          }
        }
      `,
      {
        after: page.pageInfo.endCursor,
      },
    );
    expect(next.errors).toBeUndefined();
    const forged = await graphql(
      ada,
      `
        {
          orders(after: "bm90IGEgY3Vyc29y") {
            edges {
              node {
                id
              }
            }
          }
        }
      `,
    );
    expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    // A second payment on ada's paid order is EXCESS: on the review list for administrators.
    const orders = await graphql(
      ada,
      `
        {
          orders {
            edges {
              node {
                id
                status
              }
            }
          }
        }
      `,
    );
    const paid = (
      orders.data?.orders as { edges: Array<{ node: { id: string; status: string } }> }
    ).edges.find((edge) => edge.node.status === 'PAID');
    const excess = await service.modules.settlement.settle({
      orderId: paid?.node.id ?? '',
      provider: 'PAYPAL',
      providerPaymentId: `cap_${randomUUID()}`,
      amountMinor: 100n,
      currency: 'EUR',
      receivedAt: new Date(),
    });
    expect(excess).toMatchObject({ ok: true, order: { status: 'OVERPAID' }, payment: { outcome: 'EXCESS' } });
    const review = `{ paymentsForReview { edges { node { outcome amountMinor order { id status } } } } }`;
    expect((await graphql(admin, review)).data?.paymentsForReview).toMatchObject({
      edges: [
        { node: { outcome: 'EXCESS', amountMinor: '100', order: { id: paid?.node.id, status: 'OVERPAID' } } },
      ],
    });
    const refused = await graphql(ada, review);
    expect(refused.data?.paymentsForReview ?? null).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses a request that did not come through the gateway', async () => {
    const response = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ payments { edges { cursor } } }' }),
    });
    expect(response.status).toBe(401);
  });
});
