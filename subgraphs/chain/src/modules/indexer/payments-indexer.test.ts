import { paymentReceiverAbi, testUsdcAbi } from '@symbeon/contracts';
import { openDatabase, type Database } from '@symbeon/kernel';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { asc, eq } from 'drizzle-orm';
import { Contract, id, Wallet, ZeroAddress } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { chainMigrations } from '../../service.js';
import { startChainFixture, type ChainFixture } from '../../test-fixture.js';
import { createRegistryResolvers } from '../registry/registry-resolvers.js';

// PaymentReceiver's events through the indexer, on a real anvil node with PaymentReceiver and TestUSDC
// deployed and a real database. The indexer runs by hand so each test decides when a range is processed.
let chain: ChainFixture;
let database: Database<typeof schema>;
const payer = anvilDevAccounts[5];
const admin = anvilDevAccounts[0];

beforeAll(async () => {
  chain = await startChainFixture(
    { CHAIN_INDEXER: 'false', CHAIN_BLOCK_RANGE: '5', CHAIN_CONFIRMATIONS: '2' },
    {},
    { paymentReceiver: true, testToken: true },
  );
  database = await openDatabase({
    schemaName: 'chain',
    migrationsFolder: chainMigrations,
    schema,
    databaseUrl: chain.env.DATABASE_URL,
    dataDir: chain.env.DATA_DIR,
  });
});

afterAll(async () => {
  await database?.close();
  await chain?.close();
});

const receiverAddress = () => chain.deployment.contracts.PaymentReceiver!.address;
const usdcAddress = () => chain.deployment.contracts.TestUSDC!.address;
const receiver = (key: string) =>
  new Contract(receiverAddress(), paymentReceiverAbi, new Wallet(key, chain.provider));
const usdc = (key: string) => new Contract(usdcAddress(), testUsdcAbi, new Wallet(key, chain.provider));

async function mined(sent: Promise<{ wait(): Promise<{ blockNumber: number; hash: string } | null> }>) {
  const receipt = await (await sent).wait();
  return receipt!;
}

async function payNative(orderRef: string, wei: bigint) {
  return mined(receiver(payer.privateKey).getFunction('pay').send(orderRef, { value: wei }));
}

async function payUsdc(orderRef: string, amount: bigint) {
  await mined(usdc(admin.privateKey).getFunction('mint').send(payer.address, amount));
  await mined(usdc(payer.privateKey).getFunction('approve').send(receiverAddress(), amount));
  return mined(receiver(payer.privateKey).getFunction('payToken').send(orderRef, usdcAddress(), amount));
}

const payments = async () =>
  (
    await database.db
      .select()
      .from(schema.outbox)
      .where(eq(schema.outbox.type, 'PaymentReceived'))
      .orderBy(asc(schema.outbox.seq))
  ).map((row) => row.payload as Record<string, unknown>);

describe('indexer: PaymentReceiver', () => {
  it('publishes one PaymentReceived per payment (native and TestUSDC) once confirmed, never twice across a restart', async () => {
    const nativeRef = id('order-native');
    const usdcRef = id('order-usdc');
    const native = await payNative(nativeRef, 10n ** 15n);
    const token = await payUsdc(usdcRef, 49_000_000n);
    await chain.service.indexer.sync();
    // Only blocks at most head - 2 are processed: the USDC payment (the head block) is not published yet.
    expect((await payments()).map((payment) => payment.orderRef)).not.toContain(usdcRef);

    await chain.rpc('anvil_mine', ['0x2']);
    await chain.service.indexer.sync();
    const published = await payments();
    expect(published).toHaveLength(2);
    const block = await chain.provider.getBlock(native.blockNumber);
    expect(published[0]).toEqual({
      chainId: 31337,
      contract: receiverAddress(),
      orderRef: nativeRef,
      payer: payer.address,
      token: ZeroAddress,
      amount: (10n ** 15n).toString(),
      txHash: native.hash,
      blockNumber: native.blockNumber,
      blockHash: block!.hash,
      logIndex: 0,
      occurredAt: new Date(block!.timestamp * 1000).toISOString(),
    });
    expect(published[1]).toMatchObject({
      orderRef: usdcRef,
      token: usdcAddress(),
      amount: '49000000',
      txHash: token.hash,
    });

    await chain.restart();
    await chain.rpc('anvil_mine', ['0x3']);
    await chain.service.indexer.sync();
    expect(await payments()).toHaveLength(2);
  });

  it('lists the receiver and the tokens it allows', async () => {
    const resolvers = createRegistryResolvers(chain.service.registry, chain.service.modules.storage.indexer);
    expect(resolvers.ChainStatus.paymentReceiver()).toBe(receiverAddress());
    expect(await resolvers.ChainStatus.paymentTokens()).toEqual([
      { symbol: 'tUSDC', address: usdcAddress(), decimals: 6 },
    ]);
  });

  it('announces a published payment that a reorganisation removed in ChainReorganized', async () => {
    await chain.restart({}, { CHAIN_CONFIRMATIONS: 0 });
    await chain.service.indexer.sync();
    const snapshot = await chain.rpc<string>('evm_snapshot');
    const orphanRef = id('order-orphan');
    const orphan = await payNative(orphanRef, 12345n);
    await chain.service.indexer.sync();
    expect((await payments()).some((payment) => payment.orderRef === orphanRef)).toBe(true);

    expect(await chain.rpc<boolean>('evm_revert', [snapshot])).toBe(true);
    await chain.rpc('anvil_mine', ['0x2']);
    await chain.service.indexer.sync();

    const reorganized = await database.db
      .select()
      .from(schema.outbox)
      .where(eq(schema.outbox.type, 'ChainReorganized'));
    const removed = reorganized.flatMap(
      (row) => (row.payload as { removedLogs: Array<Record<string, unknown>> }).removedLogs,
    );
    expect(removed).toContainEqual(
      expect.objectContaining({
        eventName: 'PaymentReceived',
        address: receiverAddress(),
        txHash: orphan.hash,
        blockNumber: orphan.blockNumber,
        logIndex: 0,
      }),
    );
    const logs = await database.db
      .select()
      .from(schema.chainLogs)
      .where(eq(schema.chainLogs.txHash, orphan.hash));
    expect(logs).toHaveLength(0);
  });
});
