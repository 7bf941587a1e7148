import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, JsonRpcProvider, Wallet, ZeroAddress } from 'ethers';
import { devKeys, signIn, startPublicTestStack, type SignedIn, type TestStack } from '../kit/index.js';

// A crypto payment through the gateway and the local chain only: linus orders the seeded Professional
// programme (EUR 49.00), asks for a quote in the native coin, pays it from his dev wallet with
// PaymentReceiver.pay over JSON-RPC, and the order becomes PAID with an invoice (chain indexer →
// PaymentReceived → payments' crypto module → settlement).
let stack: TestStack;
let linus: SignedIn;
let provider: JsonRpcProvider;

beforeAll(async () => {
  stack = await startPublicTestStack();
  linus = await signIn(stack.graphql, devKeys.linus);
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

describe('crypto payment through the gateway', () => {
  it('orders Professional, quotes it in the native coin, pays on anvil: PAID with an invoice', async () => {
    const status = await stack.graphql(
      '{ chainStatus { paymentReceiver paymentTokens { symbol decimals } } }',
    );
    expect(status.body.errors).toBeUndefined();
    const receiver = status.body.data!.chainStatus.paymentReceiver as string;
    expect(receiver).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(status.body.data!.chainStatus.paymentTokens).toEqual([{ symbol: 'tUSDC', decimals: 6 }]);

    const programme = await stack.graphql('{ programme(slug: "professional") { id } }');
    const programmeId = programme.body.data!.programme.id as string;
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
  });
});
