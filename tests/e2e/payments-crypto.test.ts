import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, JsonRpcProvider, Wallet, ZeroAddress } from 'ethers';
import {
  devKeys,
  minimalPdf,
  signIn,
  startPublicTestStack,
  type SignedIn,
  type TestStack,
} from '../kit/index.js';

// A crypto payment through the gateway and the local chain only: linus's request for the seeded Professional
// programme (EUR 49.00) is audited and approved by alan and waits for payment; linus orders it, asks for a
// quote in the native coin, pays it from his dev wallet with PaymentReceiver.pay over JSON-RPC, and the order
// becomes PAID with an invoice (chain indexer → PaymentReceived → payments' crypto module → settlement →
// PaymentSettled), which lets the request go on to issuance.
let stack: TestStack;
let linus: SignedIn;
let alan: SignedIn;
let provider: JsonRpcProvider;

beforeAll(async () => {
  stack = await startPublicTestStack();
  [linus, alan] = await Promise.all([
    signIn(stack.graphql, devKeys.linus),
    signIn(stack.graphql, devKeys.alan),
  ]);
  provider = new JsonRpcProvider(stack.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
});

afterAll(async () => {
  provider?.destroy();
  await stack?.stop();
});

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const ORDER = `query ($id: ID!) {
  order(id: $id) { id status amountMinor currency invoice { number } cryptoQuote { status received } }
}`;

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
async function approvedRequest(programmeId: string): Promise<string> {
  const created = await stack.graphql(
    'mutation ($id: ID!) { createCertificationRequest(programmeId: $id) { ok error { code message } request { id } } }',
    { id: programmeId },
    linus.headers,
  );
  expect(created.body.data!.createCertificationRequest.ok).toBe(true);
  const requestId = created.body.data!.createCertificationRequest.request.id as string;
  for (const key of ['portfolio', 'project_report']) {
    const document = minimalPdf(key);
    const ticket = await stack.graphql(
      `mutation ($id: ID!, $key: String!, $size: Int!) { createEvidenceUpload(requestId: $id, evidenceKey: $key,
        fileName: "document.pdf", mediaType: "application/pdf", size: $size) { ok error { code message } upload { url } } }`,
      { id: requestId, key, size: document.length },
      linus.headers,
    );
    expect(ticket.body.data!.createEvidenceUpload.ok).toBe(true);
    const put = await fetch(ticket.body.data!.createEvidenceUpload.upload.url, {
      method: 'PUT',
      body: document,
      headers: { 'content-type': 'application/pdf' },
    });
    expect(put.status).toBe(200);
  }
  const submitted = await stack.graphql(
    'mutation ($id: ID!) { submitCertificationRequest(id: $id) { ok error { code message } } }',
    { id: requestId },
    linus.headers,
  );
  expect(submitted.body.data!.submitCertificationRequest).toMatchObject({ ok: true });
  await until(
    async () => ((await requestStatus(requestId)) === 'AWAITING_REVIEW' ? true : undefined),
    'review',
  );
  const approved = await stack.graphql(
    'mutation ($id: ID!) { reviewCertificationRequest(id: $id, decision: APPROVE, comment: "Good") { ok error { code message } } }',
    { id: requestId },
    alan.headers,
  );
  expect(approved.body.data!.reviewCertificationRequest).toMatchObject({ ok: true });
  await until(
    async () => ((await requestStatus(requestId)) === 'AWAITING_PAYMENT' ? true : undefined),
    'AWAITING_PAYMENT',
  );
  return requestId;
}

describe('crypto payment through the gateway', () => {
  it('pays an approved Professional request in the native coin on anvil: order PAID with an invoice, the request goes on', async () => {
    const status = await stack.graphql(
      '{ chainStatus { paymentReceiver paymentTokens { symbol decimals } } }',
    );
    expect(status.body.errors).toBeUndefined();
    const receiver = status.body.data!.chainStatus.paymentReceiver as string;
    expect(receiver).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(status.body.data!.chainStatus.paymentTokens).toEqual([{ symbol: 'tUSDC', decimals: 6 }]);

    const programme = await stack.graphql('{ programme(slug: "professional") { id } }');
    const programmeId = programme.body.data!.programme.id as string;
    const requestId = await approvedRequest(programmeId);
    // The catalogue reaches payments through certification's events: retry until it is there.
    const order = await until(async () => {
      const created = await stack.graphql(
        'mutation ($input: CreateOrderInput!) { createOrder(input: $input) { ok error { code message } order { id status amountMinor currency } } }',
        { input: { programmeId } },
        linus.headers,
      );
      expect(created.body.errors).toBeUndefined();
      const payload = created.body.data!.createOrder;
      return payload.ok ? (payload.order as { id: string; status: string; amountMinor: string }) : undefined;
    }, 'the order');
    expect(order).toMatchObject({ status: 'PENDING', amountMinor: '4900', currency: 'EUR' });

    const quoted = await stack.graphql(
      'mutation ($orderId: ID!) { createCryptoQuote(orderId: $orderId) { ok error { code message } quote { receiver orderRef token tokenSymbol amount expiresAt rate rateSource } } }',
      { orderId: order.id },
      linus.headers,
    );
    expect(quoted.body.errors).toBeUndefined();
    const { quote } = quoted.body.data!.createCryptoQuote;
    expect(quote).toMatchObject({ receiver, token: ZeroAddress, tokenSymbol: 'ETH', rate: '300000' });
    expect(quote.rateSource).toMatch(/^DEV_FIXED_RATE/);
    // EUR 49.00 at the dev rate EUR 3,000.00 per ETH, rounded up to the wei.
    expect(quote.amount).toBe('16333333333333334');

    // Someone else cannot quote linus's order.
    const ada = await signIn(stack.graphql, devKeys.ada);
    const refused = await stack.graphql(
      'mutation ($orderId: ID!) { createCryptoQuote(orderId: $orderId) { ok error { code } } }',
      { orderId: order.id },
      ada.headers,
    );
    expect(refused.body.data!.createCryptoQuote).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });

    const wallet = new Wallet(devKeys.linus, provider);
    // As a wallet would: the one function of PaymentReceiver a payer calls (contracts/solidity/IPaymentReceiver.sol).
    const contract = new Contract(quote.receiver, ['function pay(bytes32 orderRef) payable'], wallet);
    const sent = await contract.getFunction('pay').send(quote.orderRef, { value: BigInt(quote.amount) });
    expect((await sent.wait())?.status).toBe(1);

    const paid = await until(async () => {
      const seen = await stack.graphql(ORDER, { id: order.id }, linus.headers);
      expect(seen.body.errors).toBeUndefined();
      const current = seen.body.data!.order;
      return current.status === 'PAID' ? current : undefined;
    }, 'the order to be PAID');
    expect(paid.invoice.number).toMatch(/^SYM-\d{4}-\d{6}$/);
    expect(paid.cryptoQuote).toMatchObject({ status: 'PAID', received: quote.amount });
    // certification consumed PaymentSettled: the request left AWAITING_PAYMENT for issuance (a Merkle batch).
    const next = await until(async () => {
      const status = await requestStatus(requestId);
      return status === 'AWAITING_PAYMENT' ? undefined : status;
    }, 'the request to leave AWAITING_PAYMENT');
    expect(['ISSUING', 'ISSUED']).toContain(next);
  });
});
