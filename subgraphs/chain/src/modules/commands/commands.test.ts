import { randomBytes, randomUUID } from 'node:crypto';
import { certificateAnchorAbi, cidToDigest } from '@symbeon/contracts';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { Contract, hexlify } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomCid, startChainFixture, type ChainFixture } from '../../test-fixture.js';
import { ChainCommandRequested } from './commands-consumer.js';

// The consumer of certification's commands in the running chain service: real anvil, real database, the
// in-process bus. Certification's side (building the command, following CertificateIssued) is tested in
// subgraphs/certification/src/modules/issuance/issuance.test.ts.
let chain: ChainFixture;
const holder = anvilDevAccounts[4].address;

beforeAll(async () => {
  chain = await startChainFixture();
}, 60_000);

afterAll(async () => {
  await chain?.close();
});

async function until<T>(probe: () => Promise<T | undefined | null | false>, what: string, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const db = () => chain.service.modules.storage.transactions;

function command(contentCid: string, commandId: string) {
  return {
    commandId,
    kind: 'issue',
    holder,
    contentCid,
    expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
    requestId: randomUUID(),
    certificateId: randomUUID(),
  };
}

async function publish(payload: unknown, id = randomUUID()) {
  await chain.transport.publish({
    id,
    type: ChainCommandRequested,
    occurredAt: new Date().toISOString(),
    payload,
  });
  return id;
}

describe('chain commands from the bus', () => {
  it('issues once per command, however often and under whatever event id it is delivered', async () => {
    const contentCid = await randomCid();
    const commandId = `${randomUUID()}:1`;
    const payload = command(contentCid, commandId);
    const eventId = randomUUID();
    // Twice at once under one event id (a redelivery), then again under another id (a re-announcement).
    await Promise.all([publish(payload, eventId), publish(payload, eventId)]);
    await publish(payload);
    const transaction = await until(async () => {
      const row = await db().findByKey(commandId);
      return row?.status === 'MINED' ? row : undefined;
    }, 'the issue transaction to be mined');
    expect(transaction).toMatchObject({ kind: 'issue', status: 'MINED' });
    // The indexer reports it: the event certification waits for, with the token id it expects.
    const tokenId = BigInt(cidToDigest(contentCid)).toString();
    const issued = await until(async () => {
      const rows = await chain.service.modules.storage.indexer.certificatesByTokenIds(
        chain.deployment.chainId,
        [tokenId],
      );
      return rows[0];
    }, 'the indexer');
    expect(issued.holder).toBe(holder);
    const rows = await chain.service.modules.storage.transactions.list({ limit: 100 });
    expect(rows.filter((row) => row.idempotencyKey === commandId)).toHaveLength(1);
    // One send: the signer's nonce moved once for this command.
    const sent = await chain.provider.getTransaction(transaction.hash!);
    expect(sent?.nonce).toBe(transaction.nonce);
  });

  it('drops malformed commands and bad input without sending, and goes on with the next', async () => {
    const before = await chain.provider.getTransactionCount(anvilDevAccounts[0].address, 'pending');
    const badKey = `${randomUUID()}:1`;
    await publish({ commandId: 'malformed', kind: 'burn' });
    await publish(command('not-a-cid', badKey));
    const goodKey = `${randomUUID()}:1`;
    await publish(command(await randomCid(), goodKey));
    await until(async () => (await db().findByKey(goodKey))?.status === 'MINED', 'the next command');
    expect(await db().findByKey('malformed')).toBeUndefined();
    expect(await db().findByKey(badKey)).toBeUndefined();
    expect(await chain.provider.getTransactionCount(anvilDevAccounts[0].address, 'pending')).toBe(before + 1);
  });

  it('renews and revokes through the bus, keyed by the command id', async () => {
    const contentCid = await randomCid();
    const issueKey = `${randomUUID()}:1`;
    await publish(command(contentCid, issueKey));
    await until(async () => (await db().findByKey(issueKey))?.status === 'MINED', 'the issue');
    const tokenId = BigInt(cidToDigest(contentCid)).toString();
    const certificateId = randomUUID();

    const renewedCid = await randomCid();
    const expiresAt = new Date(Date.now() + 2 * 365 * 86_400_000);
    const renewKey = `${certificateId}:renew:1`;
    const renew = {
      commandId: renewKey,
      kind: 'renew',
      tokenId,
      contentCid: renewedCid,
      expiresAt: expiresAt.toISOString(),
      certificateId,
    };
    await publish(renew);
    await publish(renew);
    expect(
      await until(async () => {
        const row = await db().findByKey(renewKey);
        return row?.status === 'MINED' ? row : undefined;
      }, 'the renewal'),
    ).toMatchObject({ kind: 'renew' });
    const renewed = await until(async () => {
      const [row] = await chain.service.modules.storage.indexer.certificatesByTokenIds(
        chain.deployment.chainId,
        [tokenId],
      );
      return row && row.contentDigest === cidToDigest(renewedCid) ? row : undefined;
    }, 'the indexer to see the renewal');
    expect(renewed.expiresAt?.getTime()).toBe(Math.floor(expiresAt.getTime() / 1000) * 1000);

    const revokeKey = `${certificateId}:revoke`;
    await publish({ commandId: revokeKey, kind: 'revoke', tokenId, reason: 'fraud', certificateId });
    expect(
      await until(async () => {
        const row = await db().findByKey(revokeKey);
        return row?.status === 'MINED' ? row : undefined;
      }, 'the revocation'),
    ).toMatchObject({ kind: 'revoke' });
    await until(async () => {
      const [row] = await chain.service.modules.storage.indexer.certificatesByTokenIds(
        chain.deployment.chainId,
        [tokenId],
      );
      return row?.revoked;
    }, 'the indexer to see the revocation');
    const rows = await chain.service.modules.storage.transactions.list({ limit: 200 });
    expect(rows.filter((row) => row.idempotencyKey === renewKey)).toHaveLength(1);
  });

  it('anchors a Merkle batch and revokes one of its leaves through the bus, once per command id', async () => {
    const seen: Array<{ type: string; payload: Record<string, unknown> }> = [];
    const listening = await chain.transport.subscribe(
      async (event) => {
        seen.push({ type: event.type, payload: event.payload as Record<string, unknown> });
      },
      { group: 'commands-test-batches', types: ['BatchAnchored', 'BatchLeafRevoked'] },
    );
    try {
      const root = hexlify(randomBytes(32));
      const leaf = hexlify(randomBytes(32));
      const manifestCid = await randomCid();
      const batchKey = randomUUID();
      const anchorCommand = {
        commandId: batchKey,
        kind: 'anchorBatch',
        merkleRoot: root,
        size: 2,
        metadataCid: manifestCid,
      };
      await Promise.all([publish(anchorCommand), publish(anchorCommand)]);
      expect(
        await until(async () => {
          const row = await db().findByKey(batchKey);
          return row?.status === 'MINED' ? row : undefined;
        }, 'the anchor'),
      ).toMatchObject({
        kind: 'anchorBatch',
        toAddress: chain.deployment.contracts.CertificateAnchor.address,
      });
      const batchId = BigInt(root).toString();
      const anchored = await until(
        async () => seen.find((event) => event.type === 'BatchAnchored' && event.payload.batchId === batchId),
        'BatchAnchored from the indexer',
      );
      expect(anchored.payload).toMatchObject({
        size: 2,
        contentCid: manifestCid,
        issuer: anvilDevAccounts[0].address,
      });

      const revokeKey = `${batchKey}:revoke:${leaf}`;
      await publish({ commandId: revokeKey, kind: 'revokeInBatch', batchId, leaf, reason: 'fraud' });
      await until(async () => (await db().findByKey(revokeKey))?.status === 'MINED', 'the batch revocation');
      const revoked = await until(
        async () => seen.find((event) => event.type === 'BatchLeafRevoked' && event.payload.leaf === leaf),
        'BatchLeafRevoked from the indexer',
      );
      expect(revoked.payload).toMatchObject({
        batchId,
        reason: 'fraud',
        revokedBy: anvilDevAccounts[0].address,
      });
      const anchor = new Contract(
        chain.deployment.contracts.CertificateAnchor.address,
        certificateAnchorAbi,
        chain.provider,
      );
      expect(await anchor.getFunction('isRevokedInBatch').staticCall(batchId, leaf)).toBe(true);
      const rows = await chain.service.modules.storage.transactions.list({ limit: 200 });
      expect(rows.filter((row) => row.idempotencyKey === batchKey)).toHaveLength(1);
      // A batch command with a malformed root sends nothing.
      const badKey = randomUUID();
      await publish({ ...anchorCommand, commandId: badKey, merkleRoot: '0x1234' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await db().findByKey(badKey)).toBeUndefined();
    } finally {
      await listening.close();
    }
  });
});
