import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeys, errorCodes, signIn, startTestStack, type SignedIn, type TestStack } from '../kit/index.js';

// Orders through the gateway only: payments prices them from certification's seeded catalogue (its
// ProgrammePublished events), one open order per buyer and programme, the signed-in caller's connections,
// and the books for administrators. Card and crypto payments are in their own journeys.
let stack: TestStack;
let admin: SignedIn;
let ada: SignedIn;
let linus: SignedIn;
let professional: string;
let foundations: string;

beforeAll(async () => {
  // Payments on an ephemeral port like the other subgraphs, so that stacks can run side by side.
  stack = await startTestStack({ PAYMENTS_PORT: '0' });
  [admin, ada, linus] = await Promise.all([
    signIn(stack.graphql, devKeys.symbeon),
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.linus),
  ]);
  const catalogue = await stack.graphql(
    '{ professional: programme(slug: "professional") { id } foundations: programme(slug: "foundations") { id } }',
  );
  professional = catalogue.body.data!.professional.id as string;
  foundations = catalogue.body.data!.foundations.id as string;
});

afterAll(async () => {
  await stack?.stop();
});

const CREATE_ORDER = `mutation ($programmeId: ID!) {
  createOrder(input: { programmeId: $programmeId }) {
    ok error { code message field } created
    order { id status amount amountMinor currency item { type id name } buyer { id handle } invoice { number } payments { id } }
  }
}`;

/** createOrder as `who`, waiting for payments to have projected the seeded catalogue (events are asynchronous). */
async function createOrder(who: SignedIn, programmeId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await stack.graphql(CREATE_ORDER, { programmeId }, who.headers);
    const payload = response.body.data?.createOrder;
    if (payload?.error?.code !== 'ITEM_NOT_FOUND' || Date.now() > deadline) return response;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('orders', () => {
  it('creating an order twice returns the same order, priced from the catalogue', async () => {
    const first = await createOrder(ada, professional);
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data!.createOrder).toMatchObject({
      ok: true,
      error: null,
      created: true,
      order: {
        status: 'PENDING',
        amount: '49.00',
        amountMinor: '4900',
        currency: 'EUR',
        item: { type: 'programme', id: professional, name: 'Symbeon Professional' },
        buyer: { id: ada.userId, handle: 'ada' },
        invoice: null,
        payments: [],
      },
    });
    const second = await createOrder(ada, professional);
    expect(second.body.data!.createOrder).toMatchObject({ ok: true, created: false });
    expect(second.body.data!.createOrder.order.id).toBe(first.body.data!.createOrder.order.id);

    const orderId = first.body.data!.createOrder.order.id as string;
    const mine = await stack.graphql(
      `query ($id: ID!) { order(id: $id) { id status } }`,
      { id: orderId },
      ada.headers,
    );
    expect(mine.body.data!.order).toEqual({ id: orderId, status: 'PENDING' });
    const theirs = await stack.graphql(
      `query ($id: ID!) { order(id: $id) { id } }`,
      { id: orderId },
      linus.headers,
    );
    expect(theirs.body.data?.order ?? null).toBeNull();
    expect(errorCodes(theirs)).toContain('FORBIDDEN');
  });

  it('refuses a free programme with a coded error, and anonymous callers', async () => {
    const free = await createOrder(ada, foundations);
    expect(free.body.data!.createOrder).toMatchObject({
      ok: false,
      error: { code: 'ITEM_FREE', field: 'input.programmeId' },
      order: null,
    });
    const anonymous = await stack.graphql(CREATE_ORDER, { programmeId: professional });
    expect(anonymous.body.data?.createOrder ?? null).toBeNull();
    expect(errorCodes(anonymous)).toContain('UNAUTHORIZED_FIELD_OR_TYPE');
  });

  it('cancelling leaves room for a new order', async () => {
    const created = await createOrder(linus, professional);
    const orderId = created.body.data!.createOrder.order.id as string;
    const cancelled = await stack.graphql(
      `mutation ($id: ID!) { cancelOrder(id: $id) { ok error { code } order { id status } } }`,
      { id: orderId },
      linus.headers,
    );
    expect(cancelled.body.data!.cancelOrder).toEqual({
      ok: true,
      error: null,
      order: { id: orderId, status: 'CANCELLED' },
    });
    const next = await createOrder(linus, professional);
    expect(next.body.data!.createOrder).toMatchObject({ ok: true, created: true });
    expect(next.body.data!.createOrder.order.id).not.toBe(orderId);
  });
});

describe('connections and the books', () => {
  it('refuses the payments and invoices connections to anonymous callers, and answers the signed-in caller', async () => {
    const anonymous = await stack.graphql('{ payments(first: 5) { edges { node { id } } } }');
    expect(anonymous.body.data?.payments ?? null).toBeNull();
    expect(errorCodes(anonymous)).toContain('UNAUTHORIZED_FIELD_OR_TYPE');
    const anonymousInvoices = await stack.graphql('{ invoices(first: 5) { edges { node { number } } } }');
    expect(anonymousInvoices.body.data?.invoices ?? null).toBeNull();
    expect(errorCodes(anonymousInvoices)).toContain('UNAUTHORIZED_FIELD_OR_TYPE');
    const signedIn = await stack.graphql(
      '{ payments(first: 5) { edges { node { id } } pageInfo { hasNextPage } } invoices(first: 5) { edges { node { number } } } }',
      undefined,
      ada.headers,
    );
    expect(signedIn.body.errors).toBeUndefined();
    expect(signedIn.body.data).toEqual({
      payments: { edges: [], pageInfo: { hasNextPage: false } },
      invoices: { edges: [] },
    });
  });

  it('shows the reconciliation to administrators only', async () => {
    const query =
      '{ ledgerBalances { balanced accounts { account currency balanceMinor } providers { provider netMinor } } }';
    const books = await stack.graphql(query, undefined, admin.headers);
    expect(books.body.errors).toBeUndefined();
    expect(books.body.data!.ledgerBalances).toMatchObject({ balanced: true });
    expect(Array.isArray(books.body.data!.ledgerBalances.accounts)).toBe(true);
    const member = await stack.graphql(query, undefined, ada.headers);
    expect(member.body.data?.ledgerBalances ?? null).toBeNull();
    expect(errorCodes(member)).toContain('UNAUTHORIZED_FIELD_OR_TYPE');
  });
});
