import { cidToDigest } from '@symbeon/contracts';
import { createLogger } from '@symbeon/kernel';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { Transaction, Wallet } from 'ethers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomCid, startChainFixture, type ChainFixture } from '../../test-fixture.js';
import { createTransactionsManager, type TransactionsManager } from './transactions-manager.js';
import type { TransactionRow } from './transactions-storage.js';

// Stuck transactions on a real anvil with automine off: a command is sent, nothing is mined, the manager
// replaces it (same nonce, higher fees), then a block is mined by hand.
let chain: ChainFixture;
/** Every signed transaction handed to the node, in order. */
const broadcasts: string[] = [];
/** Simulates a process that dies after the node accepted a transaction, before it was marked SUBMITTED. */
let crashAfterBroadcast = false;
const recordingBroadcast = async (raw: string): Promise<void> => {
  broadcasts.push(raw);
  await chain.provider.broadcastTransaction(raw);
  if (crashAfterBroadcast) throw new Error('simulated crash after broadcast');
};
const replaceAfterMs = 1_000;

beforeAll(async () => {
  // CHAIN_REPLACE_AFTER_SECONDS=1 is the smallest the env accepts. The sender loop is stopped in each test
  // and driven by tick(), so every pass is one the test chose.
  chain = await startChainFixture(
    { CHAIN_INDEXER: 'false', CHAIN_REPLACE_AFTER_SECONDS: '1' },
    { broadcast: recordingBroadcast },
  );
});

afterAll(async () => {
  await chain?.close();
});

beforeEach(async () => {
  await chain.service.modules.transactions.stop();
  await chain.rpc('evm_setIntervalMining', [0]);
  await chain.rpc('evm_setAutomine', [false]);
  broadcasts.length = 0;
  crashAfterBroadcast = false;
});

afterEach(async () => {
  // Leave nothing in the pool nor open in the database for the next test (even after a failure).
  await chain.rpc('evm_setAutomine', [true]);
  await chain.rpc('evm_mine');
  await chain.service.modules.transactions.tick();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tokenOf = (cid: string) => BigInt(cidToDigest(cid)).toString();
const decoded = (raw: string) => Transaction.from(raw);
/** value × (1 + perMille / 1000), rounded up: the least a bump of perMille ‰ gives. */
const raised = (value: bigint, perMille: bigint) => (value * (1000n + perMille) + 999n) / 1000n;

function storage() {
  return chain.service.modules.storage.transactions;
}

async function row(id: string): Promise<TransactionRow> {
  const [found] = await storage().findByIds([id]);
  if (!found) throw new Error(`transaction ${id} not found`);
  return found;
}

async function certificateCall(name: 'balanceOf' | 'ownerOf', arg: string): Promise<string> {
  const iface = chain.service.registry.certificate.iface;
  const result = await chain.provider.call({
    to: chain.deployment.contracts.SymbeonCertificate.address,
    data: iface.encodeFunctionData(name, [arg]),
  });
  return String(iface.decodeFunctionResult(name, result)[0]);
}

/** Distinct hashes in the order they were first broadcast. */
function broadcastHashes(): string[] {
  return [...new Set(broadcasts.map((raw) => decoded(raw).hash!))];
}

/** Another manager on the same node, database and signer: another replica, or other settings. */
function createManager(overrides: { maxFeeGwei?: number } = {}): TransactionsManager {
  return createTransactionsManager({
    registry: chain.service.registry,
    storage: storage(),
    logger: createLogger('chain-test-manager', { level: 'silent' }),
    signerKey: anvilDevAccounts[0].privateKey,
    gasLimitCap: chain.env.CHAIN_GAS_LIMIT_CAP,
    maxFeeGwei: overrides.maxFeeGwei ?? chain.env.CHAIN_MAX_FEE_GWEI,
    replaceAfterSeconds: chain.env.CHAIN_REPLACE_AFTER_SECONDS,
    pollIntervalMs: chain.env.CHAIN_POLL_INTERVAL_MS,
    broadcast: recordingBroadcast,
  });
}

async function mineAndSettle(manager: TransactionsManager, id: string): Promise<TransactionRow> {
  await chain.rpc('evm_mine');
  await manager.tick();
  return row(id);
}

describe('replacement of stuck transactions', () => {
  it('re-signs a stuck transaction with the same nonce and bumped fees; one version is mined', async () => {
    const transactions = chain.service.modules.transactions;
    const holder = anvilDevAccounts[6].address;
    const contentCid = await randomCid();
    expect(await certificateCall('balanceOf', holder)).toBe('0');

    const submitted = await transactions.issue({ holder, contentCid, idempotencyKey: 'stuck-issue' });
    expect(submitted.status).toBe('SUBMITTED');
    const first = decoded(submitted.rawTransaction!);
    expect((await chain.provider.getTransaction(submitted.hash!))?.blockNumber).toBeNull();

    // Younger than CHAIN_REPLACE_AFTER_SECONDS: left alone.
    await transactions.tick();
    expect(await storage().attempts(submitted.id)).toHaveLength(1);

    await sleep(replaceAfterMs + 100);
    await transactions.tick();
    const attempts = await storage().attempts(submitted.id);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.hash).toBe(submitted.hash);
    const second = decoded(attempts[1]!.rawTransaction);
    expect(second.hash).toBe(attempts[1]!.hash);
    expect(second.hash).not.toBe(first.hash);
    expect(second.nonce).toBe(first.nonce);
    expect(second.nonce).toBe(submitted.nonce);
    expect(second.data).toBe(first.data);
    expect(second.to).toBe(first.to);
    // 15 % as documented, and never above CHAIN_MAX_FEE_GWEI.
    expect(second.maxFeePerGas!).toBeGreaterThanOrEqual(raised(first.maxFeePerGas!, 150n));
    expect(second.maxPriorityFeePerGas!).toBeGreaterThanOrEqual(raised(first.maxPriorityFeePerGas!, 150n));
    expect(second.maxFeePerGas!).toBeLessThanOrEqual(BigInt(Math.round(chain.env.CHAIN_MAX_FEE_GWEI * 1e9)));
    expect(attempts[1]!.maxFeePerGas).toBe(second.maxFeePerGas!.toString());
    // The row points at the latest version; both were handed to the node, the node holds the second.
    expect(await row(submitted.id)).toMatchObject({
      status: 'SUBMITTED',
      hash: second.hash,
      nonce: submitted.nonce,
      maxFeePerGas: second.maxFeePerGas!.toString(),
    });
    expect(broadcastHashes()).toEqual([first.hash, second.hash]);
    expect(await chain.provider.getTransaction(second.hash!)).not.toBeNull();

    const settled = await mineAndSettle(transactions, submitted.id);
    const receipts = await Promise.all(
      [first.hash!, second.hash!].map((hash) => chain.provider.getTransactionReceipt(hash)),
    );
    expect(receipts.map((receipt) => receipt?.status ?? null)).toEqual([null, 1]);
    expect(settled).toMatchObject({
      status: 'MINED',
      minedHash: second.hash,
      blockNumber: receipts[1]!.blockNumber,
    });
    expect(await chain.provider.getTransactionCount(transactions.signerAddress, 'latest')).toBe(
      submitted.nonce! + 1,
    );
    expect(await certificateCall('balanceOf', holder)).toBe('1');
    expect((await certificateCall('ownerOf', tokenOf(contentCid))).toLowerCase()).toBe(holder.toLowerCase());

    // Settled: later passes, even past the replacement delay, send nothing more.
    await sleep(replaceAfterMs + 100);
    await transactions.tick();
    await transactions.tick();
    expect(await storage().attempts(submitted.id)).toHaveLength(2);
    expect(broadcastHashes()).toEqual([first.hash, second.hash]);
    expect(await row(submitted.id)).toMatchObject({ status: 'MINED', minedHash: second.hash });
  });

  it('caps a replacement at CHAIN_MAX_FEE_GWEI when 12.5 % still fit, then sends no third version', async () => {
    // The node's fees do not move while no block is mined: the first attempt pays `market`.
    const market = (await chain.provider.getFeeData()).maxFeePerGas!;
    const capGwei = Number((market * 113n) / 100n) / 1e9;
    const cap = BigInt(Math.round(capGwei * 1e9));
    const transactions = createManager({ maxFeeGwei: capGwei });
    const submitted = await transactions.issue({
      holder: anvilDevAccounts[7].address,
      contentCid: await randomCid(),
      idempotencyKey: 'stuck-capped',
    });
    const first = decoded(submitted.rawTransaction!);
    expect(first.maxFeePerGas).toBe(market);

    await sleep(replaceAfterMs + 100);
    await transactions.tick();
    const attempts = await storage().attempts(submitted.id);
    expect(attempts).toHaveLength(2);
    const second = decoded(attempts[1]!.rawTransaction);
    expect(second.nonce).toBe(first.nonce);
    // 15 % would pass the cap: the replacement pays the cap exactly, still at least 12.5 % more.
    expect(raised(first.maxFeePerGas!, 150n)).toBeGreaterThan(cap);
    expect(second.maxFeePerGas).toBe(cap);
    expect(second.maxFeePerGas!).toBeGreaterThanOrEqual(raised(first.maxFeePerGas!, 125n));
    expect(second.maxPriorityFeePerGas!).toBeGreaterThanOrEqual(raised(first.maxPriorityFeePerGas!, 125n));
    expect(second.maxPriorityFeePerGas!).toBeLessThanOrEqual(cap);

    // At the cap there is no room for another 12.5 %: nothing more is signed or sent.
    await sleep(replaceAfterMs + 100);
    await transactions.tick();
    expect(await storage().attempts(submitted.id)).toHaveLength(2);
    expect(broadcastHashes()).toEqual([first.hash, second.hash]);
    for (const raw of broadcasts) expect(decoded(raw).maxFeePerGas!).toBeLessThanOrEqual(cap);

    expect(await mineAndSettle(transactions, submitted.id)).toMatchObject({
      status: 'MINED',
      minedHash: second.hash,
    });
  });

  it('sends no replacement when CHAIN_MAX_FEE_GWEI leaves less than 12.5 %', async () => {
    const market = (await chain.provider.getFeeData()).maxFeePerGas!;
    const capGwei = Number((market * 110n) / 100n) / 1e9;
    const transactions = createManager({ maxFeeGwei: capGwei });
    const submitted = await transactions.issue({
      holder: anvilDevAccounts[7].address,
      contentCid: await randomCid(),
      idempotencyKey: 'stuck-no-room',
    });
    await sleep(replaceAfterMs + 100);
    await transactions.tick();
    expect(await storage().attempts(submitted.id)).toHaveLength(1);
    expect(broadcastHashes()).toEqual([submitted.hash]);
    expect(await row(submitted.id)).toMatchObject({ status: 'SUBMITTED', hash: submitted.hash });
    expect(await mineAndSettle(transactions, submitted.id)).toMatchObject({
      status: 'MINED',
      minedHash: submitted.hash,
    });
  });

  it('lets one of two replicas replace a given attempt', async () => {
    const replicaA = chain.service.modules.transactions;
    await replicaA.stop();
    // A second manager on the same database and signer, as another replica of the service would be.
    const replicaB = createManager();
    expect(replicaB.signerAddress).toBe(replicaA.signerAddress);
    await replicaB.recover();

    const submitted = await replicaA.issue({
      holder: anvilDevAccounts[8].address,
      contentCid: await randomCid(),
      idempotencyKey: 'stuck-two-replicas',
    });
    await sleep(replaceAfterMs + 100);
    // Both see the same stuck attempt and replace it at the same time.
    await Promise.all([replicaA.tick(), replicaB.tick()]);
    const attempts = await storage().attempts(submitted.id);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.hash).toBe(submitted.hash);
    expect(broadcastHashes()).toEqual([submitted.hash, attempts[1]!.hash]);
    const replaced = await row(submitted.id);
    expect(replaced).toMatchObject({ hash: attempts[1]!.hash, maxFeePerGas: attempts[1]!.maxFeePerGas });

    // Two replacements that differ (say the market moved between the replicas' reads), both expecting the
    // latest attempt: exactly one is recorded, and the transaction carries that one's fees.
    const wallet = new Wallet(anvilDevAccounts[0].privateKey);
    const latest = decoded(replaced.rawTransaction!);
    const candidates = await Promise.all(
      [200n, 300n].map(async (perMille) => {
        const maxFeePerGas = raised(latest.maxFeePerGas!, perMille);
        const maxPriorityFeePerGas = raised(latest.maxPriorityFeePerGas!, perMille);
        const raw = await wallet.signTransaction({ ...latest.toJSON(), maxFeePerGas, maxPriorityFeePerGas });
        return {
          hash: decoded(raw).hash!,
          transactionId: submitted.id,
          rawTransaction: raw,
          maxFeePerGas: maxFeePerGas.toString(),
          maxPriorityFeePerGas: maxPriorityFeePerGas.toString(),
        };
      }),
    );
    const outcomes = await Promise.all(
      candidates.map((candidate) => storage().addAttempt(candidate, replaced.hash!)),
    );
    expect([...outcomes].sort()).toEqual([false, true]);
    const winner = candidates[outcomes.indexOf(true)]!;
    expect(await storage().attempts(submitted.id)).toHaveLength(3);
    expect(await row(submitted.id)).toMatchObject({ hash: winner.hash, maxFeePerGas: winner.maxFeePerGas });

    // Neither candidate was broadcast: the node mines the replicas' version, and a receipt for any
    // recorded attempt settles the transaction.
    expect(await mineAndSettle(replicaB, submitted.id)).toMatchObject({
      status: 'MINED',
      minedHash: attempts[1]!.hash,
    });
  });

  it('marks a transaction the node already holds SUBMITTED (crash after broadcast), then replaces it', async () => {
    const transactions = chain.service.modules.transactions;
    await transactions.stop();
    crashAfterBroadcast = true;
    const persisted = await transactions.issue({
      holder: anvilDevAccounts[9].address,
      contentCid: await randomCid(),
      idempotencyKey: 'stuck-after-crash',
    });
    expect(persisted.status).toBe('PENDING');
    expect(await chain.provider.getTransaction(persisted.hash!)).not.toBeNull();
    crashAfterBroadcast = false;

    // Re-sent with the same bytes: anvil answers "transaction already imported", which is a success.
    await transactions.tick();
    expect(await row(persisted.id)).toMatchObject({ status: 'SUBMITTED', hash: persisted.hash });
    await sleep(replaceAfterMs + 100);
    await transactions.tick();
    const attempts = await storage().attempts(persisted.id);
    expect(attempts).toHaveLength(2);
    expect(await mineAndSettle(transactions, persisted.id)).toMatchObject({
      status: 'MINED',
      minedHash: attempts[1]!.hash,
    });
  });
});
