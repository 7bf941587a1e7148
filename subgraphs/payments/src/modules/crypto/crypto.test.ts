import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  deployContracts,
  paymentReceiverAbi,
  testUsdcAbi,
  writeDeployment,
  type Deployment,
} from '@symbeon/contracts';
import {
  createLogger,
  createMemoryEventTransport,
  openDatabase,
  type Database,
  type EventTransport,
  type Principal,
} from '@symbeon/kernel';
import { anvilDevAccounts, startAnvil, type AnvilNode } from '@symbeon/kernel/anvil';
import { createTestDatabaseTarget } from '@symbeon/kernel/testing';
import { desc, eq } from 'drizzle-orm';
import { Contract, Interface, JsonRpcProvider, Wallet, ZeroAddress, type TransactionReceipt } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { parsePaymentsEnv } from '../../env.js';
import { paymentsMigrations, startPayments, type PaymentsService } from '../../service.js';
import { creditedMinor, orderRefOf, parseRate, tokenAmountFor } from './crypto-amounts.js';
import { cryptoModule, type CryptoModule } from './crypto-module.js';
import * as cryptoTables from './crypto-schema.js';
import type { CryptoQuoteRow } from './crypto-storage.js';

// The crypto module on a real anvil node (PaymentReceiver and TestUSDC deployed) and a real database. The
// test plays the chain subgraph's part: it pays on chain, reads the receipt's PaymentReceived log and
// publishes it as the chain's indexer does (subgraphs/chain/src/modules/indexer/payments-indexer.test.ts
// covers that side; tests/e2e/payments-crypto.test.ts the whole path).
let node: AnvilNode;
let deployment: Deployment;
let provider: JsonRpcProvider;
let transport: EventTransport;
let service: PaymentsService;
let crypto: CryptoModule;
let database: Database<typeof schema>;
let cleanup: () => Promise<void>;
const folder = mkdtempSync(path.join(tmpdir(), 'symbeon-crypto-'));
const admin = anvilDevAccounts[0];
const payer = anvilDevAccounts[6];
const receiverIface = new Interface(paymentReceiverAbi);

const userPrincipal = (userId: string, roles: string[] = []): Principal => ({
  kind: 'user',
  userId,
  sessionId: randomUUID(),
  roles,
  scopes: [],
  tier: 'FREE',
});
const adminPrincipal = userPrincipal(randomUUID(), ['ADMIN']);

beforeAll(async () => {
  const [anvil, target] = await Promise.all([startAnvil({ port: 0 }), createTestDatabaseTarget()]);
  node = anvil;
  deployment = await deployContracts({
    rpcUrl: node.rpcUrl,
    deployerKey: admin.privateKey,
    issuers: [admin.address],
    testToken: true,
  });
  const deploymentPath = path.join(folder, 'deployment.json');
  writeDeployment(deploymentPath, deployment);
  provider = new JsonRpcProvider(node.rpcUrl, deployment.chainId, { staticNetwork: true, cacheTimeout: -1 });
  transport = createMemoryEventTransport();
  const env = parsePaymentsEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: target.dataDir,
    ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    PAYMENTS_PORT: '0',
    INTERNAL_AUTH_SECRET: `crypto-test-${randomUUID()}`,
    CHAIN_RPC_URL: node.rpcUrl,
    CHAIN_DEPLOYMENT_PATH: deploymentPath,
    PAYMENTS_CRYPTO_QUOTE_MINUTES: '15',
    PAYMENTS_CRYPTO_TOPUP_MINUTES: '60',
    // EUR 2,000.00 per ETH; EUR 0.90 per USDC.
    PAYMENTS_CRYPTO_DEV_RATES: JSON.stringify({ 'ETH/EUR': '200000', 'USDC/EUR': '90' }),
  });
  service = await startPayments({
    env,
    logger: createLogger('crypto-test', { level: 'silent' }),
    transport,
    modules: [
      async (deps) => {
        crypto = (await cryptoModule(deps)) as CryptoModule;
        return crypto;
      },
    ],
  });
  database = await openDatabase({
    schemaName: 'payments',
    migrationsFolder: paymentsMigrations,
    schema,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
  });
  cleanup = async () => {
    await service.stop();
    await database.close();
    provider.destroy();
    await node.stop();
    await transport.close();
    await target.cleanup();
  };
}, 60_000);

afterAll(async () => {
  await cleanup?.();
  rmSync(folder, { recursive: true, force: true });
});

/** A priced programme in the catalogue (as certification publishes it) and an order for it by a new buyer. */
async function newOrder(priceMinor = 4900n) {
  const programmeId = randomUUID();
  const buyer = userPrincipal(randomUUID());
  await transport.publish({
    id: randomUUID(),
    type: 'certification.ProgrammePublished',
    occurredAt: new Date().toISOString(),
    payload: {
      programmeId,
      slug: `p-${programmeId}`,
      name: 'Professional',
      priceAmountMinor: priceMinor.toString(),
      currency: 'EUR',
    },
  });
  for (let attempt = 0; ; attempt += 1) {
    try {
      const { order } = await service.modules.orders.createOrder(buyer, { programmeId });
      return { order, buyer };
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const usdc = () => deployment.contracts.TestUSDC!.address;

async function quote(order: { id: string }, buyer: Principal, token?: string) {
  return crypto.manager.createQuote(buyer, order.id, token);
}

async function send(tx: Promise<{ wait(): Promise<TransactionReceipt | null> }>) {
  const receipt = await (await tx).wait();
  return receipt!;
}

/** Pays on chain (native or TestUSDC) and publishes the log as the chain's indexer would; returns the event. */
async function pay(orderRef: string, amount: bigint, token: string = ZeroAddress) {
  const wallet = new Wallet(payer.privateKey, provider);
  const receiver = new Contract(deployment.contracts.PaymentReceiver!.address, paymentReceiverAbi, wallet);
  let receipt: TransactionReceipt;
  if (token === ZeroAddress) {
    receipt = await send(receiver.getFunction('pay').send(orderRef, { value: amount }));
  } else {
    const owner = new Contract(token, testUsdcAbi, new Wallet(admin.privateKey, provider));
    await send(owner.getFunction('mint').send(payer.address, amount));
    await send(new Contract(token, testUsdcAbi, wallet).getFunction('approve').send(receiver.target, amount));
    receipt = await send(receiver.getFunction('payToken').send(orderRef, token, amount));
  }
  const log = receipt.logs.find((entry) => entry.address === deployment.contracts.PaymentReceiver!.address)!;
  const parsed = receiverIface.parseLog({ topics: [...log.topics], data: log.data })!;
  const block = await provider.getBlock(receipt.blockNumber);
  const event = {
    id: randomUUID(),
    type: 'PaymentReceived',
    occurredAt: new Date().toISOString(),
    payload: {
      chainId: deployment.chainId,
      contract: log.address,
      orderRef: parsed.args.orderRef as string,
      payer: parsed.args.payer as string,
      token: parsed.args.token as string,
      amount: (parsed.args.amount as bigint).toString(),
      occurredAt: new Date(block!.timestamp * 1000).toISOString(),
      blockNumber: receipt.blockNumber,
      blockHash: receipt.blockHash,
      txHash: receipt.hash,
      logIndex: log.index,
    },
  };
  await transport.publish(event);
  return event;
}

async function settled(orderId: string, predicate: (status: string) => boolean, what: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await crypto.manager.processPending();
    const order = await service.modules.orders.get(orderId);
    if (order && predicate(order.status)) return order;
    if (Date.now() > deadline) throw new Error(`order ${orderId} never ${what} (status ${order?.status})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const paymentsOf = (orderId: string) =>
  database.db
    .select()
    .from(cryptoTables.cryptoPayments)
    .where(eq(cryptoTables.cryptoPayments.orderId, orderId));
const settlementPayments = (orderId: string) =>
  database.db.select().from(schema.paymentsTable).where(eq(schema.paymentsTable.orderId, orderId));
const invoicesOf = (orderId: string) =>
  database.db.select().from(schema.invoices).where(eq(schema.invoices.orderId, orderId));

async function expectLedgerBalanced() {
  const report = await service.modules.ledger.report();
  expect(report.balanced).toBe(true);
  const totals = new Map<string, bigint>();
  for (const account of report.accounts)
    totals.set(account.currency, (totals.get(account.currency) ?? 0n) + account.balanceMinor);
  for (const total of totals.values()) expect(total).toBe(0n);
  return report;
}

const balanceOf = async (account: string) =>
  (await service.modules.ledger.report()).accounts
    .filter((row) => row.account === account)
    .reduce((sum, row) => sum + row.balanceMinor, 0n);

describe('crypto amounts', () => {
  it('rounds the payer’s amount up and credits the exact price once the quote is reached', () => {
    const rate = parseRate('200000')!;
    // EUR 49.00 at EUR 2,000.00 per ETH = 0.0245 ETH exactly; EUR 49.01 needs one more wei than the floor.
    expect(tokenAmountFor(4900n, rate, 18)).toBe(24_500_000_000_000_000n);
    expect(tokenAmountFor(4901n, rate, 18)).toBe(24_505_000_000_000_000n);
    expect(tokenAmountFor(1n, parseRate('3')!, 6)).toBe(333_334n);
    expect(creditedMinor(333_334n, 333_334n, 1n)).toBe(1n);
    expect(creditedMinor(100n, 1000n, 4900n)).toBe(490n);
    expect(creditedMinor(999n, 1000n, 4900n)).toBe(4900n); // within the 0.1 % tolerance
    expect(creditedMinor(1500n, 1000n, 4900n)).toBe(7350n);
  });
});

describe('crypto payments on anvil', () => {
  it('quotes for the buyer only, in the native coin by default, with a labelled dev rate; a new quote replaces an unpaid one', async () => {
    const { order, buyer } = await newOrder();
    const stranger = userPrincipal(randomUUID());
    await expect(quote(order, stranger)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const first = await quote(order, buyer);
    expect(first).toMatchObject({
      receiver: deployment.contracts.PaymentReceiver!.address,
      orderRef: orderRefOf(order.id),
      token: ZeroAddress,
      tokenSymbol: 'ETH',
      amount: '24500000000000000',
      rate: '200000',
      status: 'ACTIVE',
    });
    expect(first.rateSource).toMatch(/^DEV_FIXED_RATE/);
    const second = await quote(order, buyer, usdc());
    // EUR 49.00 at EUR 0.90 per USDC = 54.444445 USDC, rounded up.
    expect(second).toMatchObject({ token: usdc(), tokenSymbol: 'tUSDC', amount: '54444445' });
    const rows = await database.db
      .select()
      .from(cryptoTables.cryptoQuotes)
      .where(eq(cryptoTables.cryptoQuotes.orderId, order.id));
    expect(rows.map((row) => row.status).sort()).toEqual(['ACTIVE', 'REPLACED']);
    await expect(quote(order, buyer, payer.address)).rejects.toMatchObject({ code: 'TOKEN_NOT_ACCEPTED' });
  });

  it('an exact native payment → PAID, invoiced, once however often the event is delivered', async () => {
    const { order, buyer } = await newOrder();
    const q = await quote(order, buyer);
    const event = await pay(q.orderRef, BigInt(q.amount));
    await settled(order.id, (status) => status === 'PAID', 'PAID');
    await transport.publish(event);
    await transport.publish({ ...event, id: randomUUID() });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await crypto.manager.processPending();
    expect(await paymentsOf(order.id)).toHaveLength(1);
    expect(await settlementPayments(order.id)).toMatchObject([{ amountMinor: 4900n, outcome: 'SETTLED' }]);
    expect(await invoicesOf(order.id)).toHaveLength(1);
    expect((await service.modules.orders.get(order.id))!.status).toBe('PAID');
    await expectLedgerBalanced();
  });

  it('TestUSDC underpaid → UNDERPAID, then topped up → PAID once', async () => {
    const { order, buyer } = await newOrder();
    const q = await quote(order, buyer, usdc());
    await pay(q.orderRef, 20_000_000n, usdc());
    await settled(order.id, (status) => status === 'UNDERPAID', 'UNDERPAID');
    expect(await invoicesOf(order.id)).toHaveLength(0);
    await pay(q.orderRef, BigInt(q.amount) - 20_000_000n, usdc());
    await settled(order.id, (status) => status === 'PAID', 'PAID');
    const received = await settlementPayments(order.id);
    expect(received.map((row) => row.outcome).sort()).toEqual(['PARTIAL', 'SETTLED']);
    expect(received.reduce((sum, row) => sum + row.amountMinor, 0n)).toBe(4900n);
    expect(await invoicesOf(order.id)).toHaveLength(1);
    expect((await crypto.manager.present((await quoteRow(order.id))!)).status).toBe('PAID');
    await expectLedgerBalanced();
  });

  it('underpaid past the top-up window: refundCryptoExcess expires the order and refunds what came in', async () => {
    const { order, buyer } = await newOrder();
    const q = await quote(order, buyer, usdc());
    await pay(q.orderRef, 10_000_000n, usdc());
    await settled(order.id, (status) => status === 'UNDERPAID', 'UNDERPAID');
    await expect(crypto.manager.refundExcess(adminPrincipal, order.id, null)).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    // The quote and its 60-minute top-up window ran out.
    await database.db
      .update(cryptoTables.cryptoQuotes)
      .set({ expiresAt: new Date(Date.now() - 2 * 3600_000) })
      .where(eq(cryptoTables.cryptoQuotes.id, q.id));
    const refunded = await crypto.manager.refundExcess(adminPrincipal, order.id, 'never completed');
    // 10 tUSDC of a 54.444445 tUSDC quote for EUR 49.00: credited EUR 8.99 (rounded down).
    expect(refunded).toMatchObject({ amount: '10000000', payer: payer.address, refundedMinor: '899' });
    expect((await service.modules.orders.get(order.id))!.status).toBe('EXPIRED');
    await expectLedgerBalanced();
  });

  it('overpaid → OVERPAID with the excess owed to the payer; refundCryptoExcess records its refund', async () => {
    const { order, buyer } = await newOrder();
    const q = await quote(order, buyer);
    const excess = 5_000_000_000_000_000n; // 0.005 ETH = EUR 10.00
    await pay(q.orderRef, BigInt(q.amount) + excess);
    await settled(order.id, (status) => status === 'OVERPAID', 'OVERPAID');
    const shown = await crypto.manager.present((await quoteRow(order.id))!);
    expect(shown).toMatchObject({ status: 'PAID', excess: excess.toString(), excessRefunded: false });
    expect(await settlementPayments(order.id)).toMatchObject([{ amountMinor: 5900n }]);
    expect(await invoicesOf(order.id)).toMatchObject([{ totalMinor: 4900n }]);
    const depositsBefore = await balanceOf('customer-deposits');
    const cashBefore = await balanceOf('cash:crypto:eth');

    const refunded = await crypto.manager.refundExcess(adminPrincipal, order.id, null);
    expect(refunded).toMatchObject({
      token: ZeroAddress,
      amount: excess.toString(),
      payer: payer.address,
      refundedMinor: '1000',
    });
    expect(refunded.quote.excessRefundedAt).not.toBeNull();
    expect((await balanceOf('customer-deposits')) - depositsBefore).toBe(1000n);
    // The money leaves the account it came into.
    expect((await balanceOf('cash:crypto:eth')) - cashBefore).toBe(-1000n);
    // Asked again (a retry): the same refund, recorded once.
    const again = await crypto.manager.refundExcess(adminPrincipal, order.id, null);
    expect(again.refundedMinor).toBe('1000');
    expect((await balanceOf('customer-deposits')) - depositsBefore).toBe(1000n);
    await expect(crypto.manager.refundExcess(buyer, order.id, null)).rejects.toBeDefined();
    await expectLedgerBalanced();
  });

  it('a payment after the quote expired is held LATE for an administrator, not settled; accepting it settles', async () => {
    const { order, buyer } = await newOrder();
    const q = await quote(order, buyer);
    // The quote ran out before the payment's block.
    await database.db
      .update(cryptoTables.cryptoQuotes)
      .set({ expiresAt: new Date(Date.now() - 60_000) })
      .where(eq(cryptoTables.cryptoQuotes.id, q.id));
    const suspenseBefore = await balanceOf('crypto-suspense');
    await pay(q.orderRef, BigInt(q.amount));
    const deadline = Date.now() + 10_000;
    let held;
    while (!(held = (await paymentsOf(order.id)).find((row) => row.status === 'LATE'))) {
      if (Date.now() > deadline) throw new Error('never held');
      await crypto.manager.processPending();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(held).toMatchObject({ needsReview: true, creditedMinor: 4900n });
    expect(held.reviewReason).toMatch(/^LATE/);
    expect((await service.modules.orders.get(order.id))!.status).toBe('PENDING');
    expect(await settlementPayments(order.id)).toHaveLength(0);
    expect((await balanceOf('crypto-suspense')) - suspenseBefore).toBe(-4900n);
    const queue = await crypto.manager.needingReview(adminPrincipal, 50);
    expect(queue.map((row) => row.id)).toContain(held.id);
    await expect(crypto.manager.needingReview(buyer, 50)).rejects.toBeDefined();
    await expectLedgerBalanced();

    const accepted = await crypto.manager.resolve(adminPrincipal, held.id, 'ACCEPT', 'paid a minute late');
    expect(accepted).toMatchObject({ status: 'ACCEPTED', needsReview: false });
    expect((await service.modules.orders.get(order.id))!.status).toBe('PAID');
    expect(await balanceOf('crypto-suspense')).toBe(suspenseBefore);
    expect(await invoicesOf(order.id)).toHaveLength(1);
    await expectLedgerBalanced();
  });

  it('a payment to an unknown orderRef is recorded and flagged; a reorganisation drops a held payment', async () => {
    const orderRef = orderRefOf(randomUUID());
    const event = await pay(orderRef, 1_000n);
    const deadline = Date.now() + 10_000;
    let stored;
    while (
      !(stored = (
        await database.db
          .select()
          .from(cryptoTables.cryptoPayments)
          .where(eq(cryptoTables.cryptoPayments.orderRef, orderRef))
      )[0]) ||
      stored.status === 'RECEIVED'
    ) {
      if (Date.now() > deadline) throw new Error('never recorded');
      await crypto.manager.processPending();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(stored).toMatchObject({ status: 'UNMATCHED', needsReview: true, orderId: null });
    await transport.publish({
      id: randomUUID(),
      type: 'ChainReorganized',
      occurredAt: new Date().toISOString(),
      payload: {
        chainId: deployment.chainId,
        commonAncestor: { blockNumber: event.payload.blockNumber - 1, blockHash: '0x' },
        removedFromBlock: event.payload.blockNumber,
        removedLogs: [
          {
            txHash: event.payload.txHash,
            logIndex: event.payload.logIndex,
            blockHash: event.payload.blockHash,
            blockNumber: event.payload.blockNumber,
            address: event.payload.contract,
            eventName: 'PaymentReceived',
          },
        ],
      },
    });
    const until = Date.now() + 10_000;
    while ((await crypto.manager.needingReview(adminPrincipal, 200)).some((row) => row.id === stored.id)) {
      if (Date.now() > until) throw new Error('never dropped');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [dropped] = await database.db
      .select()
      .from(cryptoTables.cryptoPayments)
      .where(eq(cryptoTables.cryptoPayments.id, stored.id));
    expect(dropped).toMatchObject({ status: 'DROPPED' });
    await expectLedgerBalanced();
  });

  it('a reorganisation after settlement flags the payment for review and keeps the order paid', async () => {
    const { order, buyer } = await newOrder();
    const q = await quote(order, buyer);
    const event = await pay(q.orderRef, BigInt(q.amount));
    await settled(order.id, (status) => status === 'PAID', 'PAID');
    await transport.publish({
      id: randomUUID(),
      type: 'ChainReorganized',
      occurredAt: new Date().toISOString(),
      payload: {
        chainId: deployment.chainId,
        removedLogs: [
          {
            txHash: event.payload.txHash,
            logIndex: event.payload.logIndex,
            blockHash: event.payload.blockHash,
            eventName: 'PaymentReceived',
          },
        ],
      },
    });
    const deadline = Date.now() + 10_000;
    let flagged;
    while (!(flagged = (await paymentsOf(order.id)).find((row) => row.needsReview))) {
      if (Date.now() > deadline) throw new Error('never flagged');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(flagged.status).toBe('APPLIED');
    expect(flagged.reviewReason).toMatch(/^REORGANIZED/);
    expect((await service.modules.orders.get(order.id))!.status).toBe('PAID');

    // The same transaction mined again in another block: counted once, the flag cleared.
    await transport.publish({
      ...event,
      id: randomUUID(),
      payload: {
        ...event.payload,
        blockNumber: event.payload.blockNumber + 1,
        blockHash: `0x${'ab'.repeat(32)}`,
        logIndex: event.payload.logIndex + 1,
      },
    });
    const until = Date.now() + 10_000;
    let rows;
    while ((rows = await paymentsOf(order.id)).length < 2 || rows.some((row) => row.status === 'RECEIVED')) {
      if (Date.now() > until) throw new Error('re-inclusion never handled');
      await crypto.manager.processPending();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(rows.map((row) => row.status).sort()).toEqual(['APPLIED', 'DROPPED']);
    expect(rows.find((row) => row.status === 'APPLIED')).toMatchObject({ needsReview: false });
    expect(await settlementPayments(order.id)).toHaveLength(1);
    const shown = await crypto.manager.present((await quoteRow(order.id))!);
    expect(shown).toMatchObject({ received: q.amount, excess: '0' });
    await expectLedgerBalanced();
  });
});

async function quoteRow(orderId: string): Promise<CryptoQuoteRow | undefined> {
  const [row] = await database.db
    .select()
    .from(cryptoTables.cryptoQuotes)
    .where(eq(cryptoTables.cryptoQuotes.orderId, orderId))
    .orderBy(desc(cryptoTables.cryptoQuotes.createdAt));
  return row;
}
