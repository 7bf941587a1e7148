import { cidToDigest, symbeonCertificateAbi } from '@symbeon/contracts';
import { openDatabase, type Database } from '@symbeon/kernel';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { asc, eq } from 'drizzle-orm';
import { Contract, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { chainMigrations } from '../../service.js';
import { randomCid, startChainFixture, type ChainFixture } from '../../test-fixture.js';

// The indexer against a real anvil node (reorganisations made with evm_snapshot / evm_revert) and a real
// database. The indexer runs by hand (CHAIN_INDEXER=false) so each test decides when a range is processed.
let chain: ChainFixture;
let database: Database<typeof schema>;
const holder = anvilDevAccounts[4].address;

beforeAll(async () => {
  chain = await startChainFixture({ CHAIN_INDEXER: 'false', CHAIN_BLOCK_RANGE: '2' });
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

const tokenOf = (cid: string) => BigInt(cidToDigest(cid)).toString();

async function issue(contentCid: string, key: string) {
  const transactions = chain.service.modules.transactions;
  const row = await transactions.issue({ holder, contentCid, idempotencyKey: key });
  return transactions.waitSettled(row.id);
}

/** Issues straight from the issuer's key (not through the manager: its nonces would not survive a revert). */
async function issueDirect(contentCid: string) {
  const wallet = new Wallet(anvilDevAccounts[0].privateKey, chain.provider);
  const certificate = new Contract(
    chain.deployment.contracts.SymbeonCertificate.address,
    symbeonCertificateAbi,
    wallet,
  );
  const sent = await certificate.getFunction('issue').send(holder, cidToDigest(contentCid), 0);
  const receipt = await sent.wait();
  return receipt!.blockNumber;
}

const events = () =>
  database.db.select().from(schema.certificateEvents).orderBy(asc(schema.certificateEvents.seq));
const outbox = () => database.db.select().from(schema.outbox).orderBy(asc(schema.outbox.seq));
const certificate = async (tokenId: string) =>
  (await database.db.select().from(schema.certificates).where(eq(schema.certificates.tokenId, tokenId)))[0];

describe('indexer', () => {
  it('stores each log once, with events, outbox rows and the read model', async () => {
    const [a, b] = [await randomCid(), await randomCid()];
    await issue(a, 'ix-a');
    await issue(b, 'ix-b');
    const transactions = chain.service.modules.transactions;
    await transactions.waitSettled(
      (await transactions.revoke({ tokenId: tokenOf(a), reason: 'test', idempotencyKey: 'ix-revoke' })).id,
    );
    const renewedCid = await randomCid();
    await transactions.waitSettled(
      (
        await transactions.renew({
          tokenId: tokenOf(b),
          contentCid: renewedCid,
          expiresAt: new Date(Date.now() + 3600_000),
          idempotencyKey: 'ix-renew',
        })
      ).id,
    );
    await chain.service.indexer.sync();
    await chain.service.indexer.sync();

    expect((await events()).map((event) => [event.type, event.tokenId])).toEqual([
      ['ISSUED', tokenOf(a)],
      ['ISSUED', tokenOf(b)],
      ['REVOKED', tokenOf(a)],
      ['RENEWED', tokenOf(b)],
    ]);
    const published = (await outbox()).map((row) => row.type);
    expect(published).toEqual([
      'CertificateIssued',
      'CertificateIssued',
      'CertificateRevoked',
      'CertificateRenewed',
    ]);
    const issued = (await outbox())[0]!.payload as Record<string, unknown>;
    expect(issued).toMatchObject({
      chainId: 31337,
      tokenId: tokenOf(a),
      holder,
      contentCid: a,
      expiresAt: null,
    });
    expect(await certificate(tokenOf(a))).toMatchObject({
      revoked: true,
      holder,
      issuer: anvilDevAccounts[0].address,
    });
    expect(await certificate(tokenOf(b))).toMatchObject({
      revoked: false,
      contentDigest: cidToDigest(renewedCid),
    });
    const logs = await database.db.select().from(schema.chainLogs);
    const keys = logs.map((log) => `${log.blockHash}:${log.logIndex}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('loses and repeats nothing when restarted between ranges', async () => {
    const before = { events: (await events()).length, outbox: (await outbox()).length };
    const cids = [await randomCid(), await randomCid(), await randomCid(), await randomCid()];
    for (const [index, cid] of cids.entries()) await issue(cid, `ix-restart-${index}`);
    expect(await chain.service.indexer.sync(1)).toBe(1);
    const partial = (await events()).length - before.events;
    expect(partial).toBeLessThan(cids.length);
    await chain.restart();
    await chain.service.indexer.sync();
    const after = await events();
    expect(after.length - before.events).toBe(cids.length);
    expect(after.slice(before.events).map((event) => event.tokenId)).toEqual(cids.map(tokenOf));
    expect((await outbox()).length - before.outbox).toBe(cids.length);
  });

  it('never records an event that a reorganisation within the confirmation depth removed', async () => {
    await chain.restart({}, { CHAIN_CONFIRMATIONS: 3 });
    await chain.service.indexer.sync();
    const before = (await events()).length;
    const snapshot = await chain.rpc<string>('evm_snapshot');
    const orphan = await randomCid();
    await issueDirect(orphan);
    await chain.service.indexer.sync();
    expect(await chain.rpc<boolean>('evm_revert', [snapshot])).toBe(true);
    const canonical = await randomCid();
    const block = await issueDirect(canonical);
    await chain.rpc('anvil_mine', ['0x3']);
    await chain.service.indexer.sync();
    expect(chain.service.indexer.status().indexedBlock).toBeGreaterThanOrEqual(block);
    const added = (await events()).slice(before).map((event) => event.tokenId);
    expect(added).toEqual([tokenOf(canonical)]);
    expect(
      (await outbox()).some((row) => (row.payload as { tokenId?: string }).tokenId === tokenOf(orphan)),
    ).toBe(false);
  });

  it('rolls back and replays a reorganisation at depth 0 so the index matches the canonical chain', async () => {
    await chain.restart({}, { CHAIN_CONFIRMATIONS: 0 });
    await chain.service.indexer.sync();
    const snapshot = await chain.rpc<string>('evm_snapshot');
    const orphan = await randomCid();
    await issueDirect(orphan);
    await chain.service.indexer.sync();
    expect(await certificate(tokenOf(orphan))).toBeDefined();

    expect(await chain.rpc<boolean>('evm_revert', [snapshot])).toBe(true);
    const canonical = await randomCid();
    await issueDirect(canonical);
    await chain.rpc('anvil_mine', ['0x1']);
    await chain.service.indexer.sync();

    expect(await certificate(tokenOf(orphan))).toBeUndefined();
    expect(await certificate(tokenOf(canonical))).toMatchObject({ holder });
    const stored = await events();
    expect(stored.some((event) => event.tokenId === tokenOf(orphan))).toBe(false);
    expect(stored.filter((event) => event.tokenId === tokenOf(canonical))).toHaveLength(1);
    // Every stored event's block is the node's block at that height.
    for (const event of stored) {
      const block = await chain.provider.getBlock(event.blockNumber);
      expect(block?.hash).toBe(event.blockHash);
    }
    expect((await outbox()).map((row) => row.type)).toContain('ChainReorganized');
  });
});
