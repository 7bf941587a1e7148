import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contract, JsonRpcProvider, Wallet, ZeroAddress } from 'ethers';
import {
  approvedCertificationRequest,
  devKeys,
  signIn,
  startPublicTestStack,
  type SignedIn,
  type TestStack,
  until,
} from '../kit/index.js';

// A crypto payment through the gateway and the local chain only: linus's request for the seeded Professional
// programme (EUR 49.00) is audited and approved by alan and waits for payment; linus orders it, asks for a
// quote in the native coin, pays it from his dev wallet with PaymentReceiver.pay over JSON-RPC, and the order
// becomes PAID with an invoice (chain indexer → PaymentReceived → payments' crypto module → settlement →
// PaymentSettled), which lets the request go on to issuance.
let stack: TestStack;
let linus: SignedIn;
let alan: SignedIn;
let grace: SignedIn;
let symbeon: SignedIn;
let provider: JsonRpcProvider;

beforeAll(async () => {
  stack = await startPublicTestStack();
  [linus, alan, grace, symbeon] = await Promise.all([
    signIn(stack.graphql, devKeys.linus),
    signIn(stack.graphql, devKeys.alan),
    signIn(stack.graphql, devKeys.grace),
    signIn(stack.graphql, devKeys.symbeon),
  ]);
  provider = new JsonRpcProvider(stack.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
});

afterAll(async () => {
  provider?.destroy();
  await stack?.stop();
});

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
function approvedRequest(programmeId: string): Promise<string> {
  return approvedCertificationRequest(stack.graphql, {
    programmeId,
    requester: linus,
    auditor: alan,
    evidenceKeys: ['portfolio', 'project_report'],
    reach: 'AWAITING_PAYMENT',
  });
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

const QUOTE = `mutation ($orderId: ID!, $token: String) {
  createCryptoQuote(orderId: $orderId, token: $token) {
    ok error { code message } quote { receiver orderRef token tokenSymbol amount expiresAt }
  }
}`;

/** An order for the Professional programme by `buyer` (a new one once the previous is paid). */
async function professionalOrder(buyer: SignedIn): Promise<string> {
  const programme = await stack.graphql('{ programme(slug: "professional") { id } }');
  return until(async () => {
    const created = await stack.graphql(
      'mutation ($input: CreateOrderInput!) { createOrder(input: $input) { ok order { id status } } }',
      { input: { programmeId: programme.body.data!.programme.id } },
      buyer.headers,
    );
    const payload = created.body.data!.createOrder;
    return payload.ok && payload.order.status === 'PENDING' ? (payload.order.id as string) : undefined;
  }, 'an order');
}

const orderStatus = async (id: string, buyer: SignedIn) => {
  const seen = await stack.graphql(ORDER, { id }, buyer.headers);
  expect(seen.body.errors).toBeUndefined();
  return seen.body.data!.order as { status: string; invoice: { number: string } | null };
};

async function expectLedgerBalanced() {
  const report = await stack.graphql(
    '{ ledgerBalances { balanced accounts { currency balanceMinor } } }',
    undefined,
    symbeon.headers,
  );
  expect(report.body.errors).toBeUndefined();
  const { balanced, accounts } = report.body.data!.ledgerBalances as {
    balanced: boolean;
    accounts: Array<{ currency: string; balanceMinor: string }>;
  };
  expect(balanced).toBe(true);
  expect(accounts.reduce((sum, account) => sum + BigInt(account.balanceMinor), 0n)).toBe(0n);
}

describe('crypto payment rules through the gateway', () => {
  it('TestUSDC: underpaid → UNDERPAID, topped up → PAID once', async () => {
    const status = await stack.graphql('{ chainStatus { paymentTokens { address symbol } } }');
    const usdc = status.body.data!.chainStatus.paymentTokens[0].address as string;
    const orderId = await professionalOrder(grace);
    const quoted = await stack.graphql(QUOTE, { orderId, token: usdc }, grace.headers);
    const { quote } = quoted.body.data!.createCryptoQuote;
    // EUR 49.00 at the dev rate EUR 0.92 per USDC: 53.260870 tUSDC, rounded up.
    expect(quote).toMatchObject({ token: usdc, tokenSymbol: 'tUSDC', amount: '53260870' });

    // The token's owner (the deployer, symbeon's dev key) mints grace some tUSDC, as a faucet would.
    const faucet = new Contract(
      usdc,
      ['function mint(address to, uint256 amount)'],
      new Wallet(devKeys.symbeon, provider),
    );
    const payerWallet = new Wallet(devKeys.grace, provider);
    await (await faucet.getFunction('mint').send(payerWallet.address, 100_000_000n)).wait();
    const token = new Contract(
      usdc,
      ['function approve(address spender, uint256 amount) returns (bool)'],
      payerWallet,
    );
    await (await token.getFunction('approve').send(quote.receiver, 100_000_000n)).wait();
    const receiver = new Contract(
      quote.receiver,
      ['function payToken(bytes32 orderRef, address token, uint256 amount)'],
      payerWallet,
    );
    await (await receiver.getFunction('payToken').send(quote.orderRef, usdc, 20_000_000n)).wait();
    await until(
      async () => ((await orderStatus(orderId, grace)).status === 'UNDERPAID' ? true : undefined),
      'UNDERPAID',
    );
    expect((await orderStatus(orderId, grace)).invoice).toBeNull();

    await (
      await receiver.getFunction('payToken').send(quote.orderRef, usdc, BigInt(quote.amount) - 20_000_000n)
    ).wait();
    const paid = await until(async () => {
      const current = await orderStatus(orderId, grace);
      return current.status === 'PAID' ? current : undefined;
    }, 'PAID');
    expect(paid.invoice!.number).toMatch(/^SYM-/);
    await expectLedgerBalanced();
  });

  it('overpaid in the native coin → OVERPAID, the excess owed to the payer; an administrator refunds it once', async () => {
    const ada = await signIn(stack.graphql, devKeys.ada);
    const orderId = await professionalOrder(ada);
    const quoted = await stack.graphql(QUOTE, { orderId }, ada.headers);
    const { quote } = quoted.body.data!.createCryptoQuote;
    const extra = 1_000_000_000_000_000n; // 0.001 ETH more than quoted
    const receiver = new Contract(
      quote.receiver,
      ['function pay(bytes32 orderRef) payable'],
      new Wallet(devKeys.ada, provider),
    );
    await (
      await receiver.getFunction('pay').send(quote.orderRef, { value: BigInt(quote.amount) + extra })
    ).wait();
    const OVERPAID = `query ($id: ID!) { order(id: $id) { status invoice { number } cryptoQuote { received excess excessRefunded } } }`;
    const overpaid = await until(async () => {
      const seen = await stack.graphql(OVERPAID, { id: orderId }, ada.headers);
      const current = seen.body.data!.order;
      return current.status === 'OVERPAID' ? current : undefined;
    }, 'OVERPAID');
    // Settled (the price was covered): invoiced, the excess recorded as owed.
    expect(overpaid.invoice.number).toMatch(/^SYM-/);
    expect(overpaid.cryptoQuote).toMatchObject({ excess: extra.toString(), excessRefunded: false });
    await expectLedgerBalanced();

    const REFUND = `mutation ($id: ID!) { refundCryptoExcess(orderId: $id, reason: "overpaid") { ok error { code message } amount payer } }`;
    const denied = await stack.graphql(REFUND, { id: orderId }, ada.headers);
    expect(denied.body.data?.refundCryptoExcess ?? null).toBeNull();
    const refunded = await stack.graphql(REFUND, { id: orderId }, symbeon.headers);
    expect(refunded.body.data!.refundCryptoExcess).toMatchObject({
      ok: true,
      amount: extra.toString(),
      payer: new Wallet(devKeys.ada).address,
    });
    // Idempotent: asked again, nothing more is refunded.
    const again = await stack.graphql(REFUND, { id: orderId }, symbeon.headers);
    expect(again.body.data!.refundCryptoExcess.ok).toBe(true);
    const after = (await stack.graphql(OVERPAID, { id: orderId }, ada.headers)).body.data!.order;
    expect(after.cryptoQuote.excessRefunded).toBe(true);
    await expectLedgerBalanced();
  });

  it('a payment after its quote expired (chain time) is held for an administrator, who accepts it', async () => {
    const orderId = await professionalOrder(linus);
    const quoted = await stack.graphql(QUOTE, { orderId }, linus.headers);
    const { quote } = quoted.body.data!.createCryptoQuote;
    // The next block is mined 16 minutes later: the 15-minute quote has expired.
    await provider.send('evm_increaseTime', [16 * 60]);
    const receiver = new Contract(
      quote.receiver,
      ['function pay(bytes32 orderRef) payable'],
      new Wallet(devKeys.linus, provider),
    );
    const sent = await receiver.getFunction('pay').send(quote.orderRef, { value: BigInt(quote.amount) });
    const mined = await sent.wait();

    const REVIEW = '{ cryptoPaymentsNeedingReview { id txHash status reviewReason orderId } }';
    const held = await until(async () => {
      const queue = await stack.graphql(REVIEW, undefined, symbeon.headers);
      expect(queue.body.errors).toBeUndefined();
      return (
        queue.body.data!.cryptoPaymentsNeedingReview as Array<{
          id: string;
          txHash: string;
          status: string;
          reviewReason: string;
        }>
      ).find((payment) => payment.txHash === mined!.hash);
    }, 'the late payment in the review queue');
    expect(held).toMatchObject({ status: 'LATE', orderId });
    expect(held.reviewReason).toMatch(/^LATE/);
    expect((await orderStatus(orderId, linus)).status).toBe('PENDING');
    // Not for anyone else.
    const refused = await stack.graphql(REVIEW, undefined, linus.headers);
    expect(refused.body.data).toBeNull();
    await expectLedgerBalanced();

    const accepted = await stack.graphql(
      'mutation ($id: ID!) { resolveCryptoPayment(id: $id, action: ACCEPT, note: "a minute late") { ok error { code message } payment { status needsReview } } }',
      { id: held.id },
      symbeon.headers,
    );
    expect(accepted.body.data!.resolveCryptoPayment).toMatchObject({
      ok: true,
      payment: { status: 'ACCEPTED', needsReview: false },
    });
    expect((await orderStatus(orderId, linus)).status).toBe('PAID');
    await expectLedgerBalanced();
  });
});
