import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { cidToDigest } from '@symbeon/contracts';
import { createLogger } from '@symbeon/kernel';
import { anvilDevAccounts } from '@symbeon/kernel/anvil';
import { createEmbeddedContentStore } from '@symbeon/kernel/content';
import { eq } from 'drizzle-orm';
import { hexlify } from 'ethers';
import { describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import {
  admin,
  anchorContract,
  approvedRequest,
  batched,
  certificateOf,
  contentDir,
  database,
  deployment,
  modules,
  playAnchor,
  principal,
  publish,
  readJson,
  statusOf,
  until,
  useChainFixture,
} from '../../test-fixture.js';
import type { CertificateRow } from '../issuance/issuance-storage.js';
import { ChainCommandRequested } from '../issuance/issuance-storage.js';
import { batchIdToRoot, LEAF_ENCODING, leafHash, leafValues, proofLeadsToRoot } from './batch-tree.js';
import { RequestEvents } from '../requests/request-states.js';
import {
  createBatchesManager,
  type AnchorBatchCommandPayload,
  type RevokeInBatchCommandPayload,
} from './batches-manager.js';

// Merkle-batch issuance and verification over a real database, a real anvil with the contracts, a real embedded
// content store and the in-process bus. The test plays the chain subgraph (subgraphs never import each other):
// it reads the anchorBatch / revokeInBatch commands, sends them to CertificateAnchor itself and publishes
// BatchAnchored / BatchLeafRevoked in the shape chain's indexer publishes them (that side:
// subgraphs/chain/src/modules/commands/commands.test.ts).
useChainFixture({ name: 'batches', batches: { maxSize: 3 } });

const holders = [anvilDevAccounts[4], anvilDevAccounts[5], anvilDevAccounts[6]];
const requestIds: string[] = [];
let members: CertificateRow[] = [];
let command: AnchorBatchCommandPayload;

const STEP_KEYS = [
  'lookup',
  'onChain',
  'integrity',
  'merkleProof',
  'credential',
  'issuer',
  'holder',
  'revocation',
  'expiry',
  'confirmations',
];
const stepsOf = (verification: { steps: Array<{ key: string; passed: boolean }> }) =>
  Object.fromEntries(verification.steps.map((step) => [step.key, step.passed]));

async function chainCommands<T>(kind: string): Promise<T[]> {
  const rows = await database.db
    .select()
    .from(schema.outbox)
    .where(eq(schema.outbox.type, ChainCommandRequested));
  return rows.map((row) => row.payload as T & { kind: string }).filter((payload) => payload.kind === kind);
}

const withProof = async (requestId: string) => {
  const row = await certificateOf(requestId);
  return row?.proof ? row : undefined;
};

describe('Merkle-batch issuance', () => {
  it('collects approved requests into one batch and, once full, writes proofs, the manifest and one anchor command', async () => {
    for (const holder of holders.slice(0, 2)) {
      requestIds.push((await approvedRequest(batched, holder.address)).requestId);
    }
    // Two members: documents and leaves written, the batch still open, nothing asked of the chain.
    const early = await until(async () => {
      const rows = await Promise.all(requestIds.map((id) => certificateOf(id)));
      return rows.every((row) => row?.leaf) ? rows : undefined;
    }, 'the first members to join');
    expect(early.every((row) => row!.proof === null && row!.tokenId === null)).toBe(true);
    expect(await chainCommands('anchorBatch')).toHaveLength(0);
    requestIds.push((await approvedRequest(batched, holders[2]!.address)).requestId);

    members = await Promise.all(
      requestIds.map((id) => until(() => withProof(id), 'the proofs of the closed batch')),
    );
    const [batch] = await modules.storage.batches.findByIds([members[0]!.batchId!]);
    expect(batch).toMatchObject({ status: 'ANCHORING', size: 3, programmeId: batched.id });
    expect(members.every((row) => row.batchId === batch!.id && row.status === 'ISSUING')).toBe(true);
    for (const [index, row] of members.entries()) {
      expect(row.holderAddress).toBe(holders[index]!.address);
      const values = leafValues(row.holderAddress!, row.metadataCid!, row.expiresAt);
      expect(row.leaf).toBe(leafHash(values));
      expect(proofLeadsToRoot(batch!.merkleRoot!, values, row.proof!)).toBe(true);
      expect(await statusOf(requestIds[index]!)).toBe('ISSUING');
    }

    const commands = await chainCommands<AnchorBatchCommandPayload>('anchorBatch');
    expect(commands).toHaveLength(1);
    command = commands[0]!;
    expect(command).toEqual({
      commandId: batch!.id,
      kind: 'anchorBatch',
      merkleRoot: batch!.merkleRoot,
      size: 3,
      metadataCid: batch!.manifestCid,
      batchId: batch!.id,
      programmeId: batched.id,
    });
    // The manifest lists every member and holds the tree: anyone can rebuild the proofs from it.
    const manifest = (await readJson(batch!.manifestCid!)) as {
      merkleRoot: string;
      leafEncoding: string[];
      certificates: Array<{ id: string; metadata: string; leaf: string }>;
      tree: Parameters<typeof StandardMerkleTree.load>[0];
    };
    expect(manifest.merkleRoot).toBe(batch!.merkleRoot);
    expect(manifest.leafEncoding).toEqual(LEAF_ENCODING);
    expect(manifest.certificates.map((item) => item.id).sort()).toEqual(members.map((row) => row.id).sort());
    const tree = StandardMerkleTree.load(manifest.tree);
    expect(tree.root).toBe(batch!.merkleRoot);
    const [, firstValues] = [...tree.entries()].find(([, value]) => value[0] === holders[0]!.address)!;
    expect(tree.getProof(firstValues)).toEqual(members[0]!.proof);
  });

  it('anchors once on chain; BatchAnchored makes every request ISSUED, and a redelivery changes nothing', async () => {
    const { anchored } = await playAnchor(command);
    const eventId = await publish('BatchAnchored', anchored);
    await publish('BatchAnchored', anchored, eventId); // redelivered: processed once
    await publish('BatchAnchored', anchored); // reported again under another id: nothing more
    for (const requestId of requestIds) {
      await until(async () => (await statusOf(requestId)) === 'ISSUED', 'ISSUED');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const trail = await modules.storage.requests.findTransitions(requestIds);
    expect(trail.filter((row) => row.toStatus === 'ISSUED')).toHaveLength(3);
    for (const requestId of requestIds) {
      expect(await certificateOf(requestId)).toMatchObject({
        status: 'VALID',
        tokenId: null,
        txHash: anchored.txHash,
        blockNumber: anchored.blockNumber,
      });
    }
    const [batch] = await modules.storage.batches.findByIds([members[0]!.batchId!]);
    expect(batch).toMatchObject({ status: 'ANCHORED', txHash: anchored.txHash, anchoredBy: anchored.issuer });
    // One anchor for the whole batch: the chain holds it under the root, with the manifest's digest.
    expect(await chainCommands('anchorBatch')).toHaveLength(1);
    const onChain = (await anchorContract.getFunction('batch').staticCall(BigInt(command.merkleRoot))) as {
      size: bigint;
    };
    expect(onChain.size).toBe(3n);
    // A BatchAnchored for a root we never asked for is not ours to follow.
    await publish('BatchAnchored', { ...anchored, batchId: BigInt(hexlify(randomBytes(32))).toString() });
  });

  it('verifies each certificate VALID, the Merkle proof checked against the anchored root', async () => {
    for (const row of members) {
      const verification = await modules.verification.verify({ id: row.id });
      expect(verification.verdict).toBe('VALID');
      expect(verification.steps.map((step) => step.key)).toEqual(STEP_KEYS);
      expect(Object.values(stepsOf(verification)).every(Boolean)).toBe(true);
      expect(verification.certificate?.id).toBe(row.id);
      const merkle = verification.steps.find((step) => step.key === 'merkleProof')!;
      expect(merkle.evidence).toMatchObject({
        merkleRoot: command.merkleRoot,
        leaf: row.leaf,
        recomputed: true,
      });
      expect(merkle.evidence!.contractVerified).toBe(true);
    }
    // A third party with the certificate file: root, metadata CID and proof, no Symbeon id.
    const byProof = await modules.verification.verifyBatchProof({
      root: command.merkleRoot,
      metadataCid: members[1]!.metadataCid!,
      proof: members[1]!.proof!,
    });
    expect(byProof.verdict).toBe('VALID');
    expect(byProof.certificate?.id).toBe(members[1]!.id);
  });

  it('says INVALID at the Merkle step for a tampered stored proof or a proof of another leaf', async () => {
    const target = members[0]!;
    const tampered = [hexlify(randomBytes(32)), ...target.proof!.slice(1)];
    await database.db
      .update(schema.certificates)
      .set({ proof: tampered })
      .where(eq(schema.certificates.id, target.id));
    try {
      const verification = await modules.verification.verify({ id: target.id });
      expect(verification.verdict).toBe('INVALID');
      expect(stepsOf(verification)).toMatchObject({ integrity: true, merkleProof: false, issuer: true });
      expect(verification.steps.find((step) => step.key === 'merkleProof')!.detail).toContain(
        'does not lead from leaf',
      );
    } finally {
      await database.db
        .update(schema.certificates)
        .set({ proof: target.proof })
        .where(eq(schema.certificates.id, target.id));
    }
    expect((await modules.verification.verify({ id: target.id })).verdict).toBe('VALID');

    // Another member's proof for this metadata: the leaf is not where that proof leads.
    const swapped = await modules.verification.verifyBatchProof({
      root: command.merkleRoot,
      metadataCid: target.metadataCid!,
      proof: members[2]!.proof!,
    });
    expect(swapped.verdict).toBe('INVALID');
    expect(stepsOf(swapped).merkleProof).toBe(false);
    // A root nobody anchored.
    const unanchored = await modules.verification.verifyBatchProof({
      root: hexlify(randomBytes(32)),
      metadataCid: target.metadataCid!,
      proof: target.proof!,
    });
    expect(unanchored.verdict).toBe('UNKNOWN');
    expect(stepsOf(unanchored)).toEqual({ lookup: true, onChain: false });
    // Malformed input is refused with a code.
    await expect(
      modules.verification.verifyBatchProof({ root: '0x12', metadataCid: target.metadataCid!, proof: [] }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(
      modules.verification.verifyBatchProof({
        root: command.merkleRoot,
        metadataCid: target.metadataCid!,
        proof: ['not-a-hash'],
      }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('revokes one certificate in its batch: that one REVOKED, the others still VALID', async () => {
    const target = (await certificateOf(requestIds[0]!))!;
    // Through the public path (revokeCertificate's manager call), which hands batch certificates to their batch.
    await modules.lifecycle.revoke(admin, target.id, 'fraud');
    const [revoke] = await chainCommands<RevokeInBatchCommandPayload>('revokeInBatch');
    expect(revoke).toEqual({
      commandId: `${target.id}:revoke`,
      kind: 'revokeInBatch',
      batchId: BigInt(command.merkleRoot).toString(),
      leaf: target.leaf,
      reason: 'fraud',
      certificateId: target.id,
    });
    expect(await chainCommands<RevokeInBatchCommandPayload>('revokeInBatch')).toHaveLength(1);
    // The chain's part: revokeInBatch on CertificateAnchor, then its indexer's BatchLeafRevoked.
    const sent = await anchorContract
      .getFunction('revokeInBatch')
      .send(revoke!.batchId, revoke!.leaf, revoke!.reason);
    const receipt = (await sent.wait())!;
    const verification = await modules.verification.verify({ id: target.id });
    expect(verification.verdict).toBe('REVOKED');
    expect(stepsOf(verification)).toMatchObject({ merkleProof: true, integrity: true, revocation: false });
    await publish('BatchLeafRevoked', {
      chainId: deployment.chainId,
      contract: deployment.contracts.CertificateAnchor.address,
      batchId: revoke!.batchId,
      leaf: revoke!.leaf,
      revokedBy: anvilDevAccounts[0].address,
      reason: 'fraud',
      blockNumber: receipt.blockNumber,
      blockHash: receipt.blockHash,
      txHash: receipt.hash,
      logIndex: 0,
    });
    await until(async () => (await statusOf(requestIds[0]!)) === 'REVOKED', 'REVOKED');
    expect(await certificateOf(requestIds[0]!)).toMatchObject({ status: 'REVOKED', revokedReason: 'fraud' });
    for (const other of members.slice(1)) {
      expect((await modules.verification.verify({ id: other.id })).verdict).toBe('VALID');
      expect((await certificateOf(other.requestId))!.status).toBe('VALID');
    }
    // A certificate not (yet) in an anchored batch cannot be revoked in one.
    await expect(
      modules.batches.requestRevocation(database.db, { ...target, batchId: null }, 'again'),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('closes a batch on an administrator’s word, or when it is older than the wait limit', async () => {
    await expect(modules.batches.closeNow(admin, batched.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const { requestId } = await approvedRequest(batched, anvilDevAccounts[7].address);
    const joined = await until(async () => {
      const row = await certificateOf(requestId);
      return row?.leaf ? row : undefined;
    }, 'the member to join');
    await expect(
      modules.batches.closeNow(principal(randomUUID(), ['ISSUER']), batched.id),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Not due yet: the batch was opened just now and may wait an hour.
    expect(await modules.batches.closeDue()).toEqual([]);
    const closed = await modules.batches.closeNow(admin, batched.id);
    // One certificate: the root is its leaf, and its proof is empty.
    expect(closed).toMatchObject({ status: 'ANCHORING', size: 1, merkleRoot: joined.leaf });
    expect((await certificateOf(requestId))!.proof).toEqual([]);

    const late = await approvedRequest(batched, anvilDevAccounts[8].address);
    await until(async () => (await certificateOf(late.requestId))?.leaf, 'the next member to join');
    const due = await modules.batches.closeDue(new Date(Date.now() + 2 * 3600_000));
    expect(due.map((batch) => batch.size)).toEqual([1]);
    const anchors = await chainCommands<AnchorBatchCommandPayload>('anchorBatch');
    expect(anchors).toHaveLength(3);
    // Each batch anchors under its own root: the single-leaf batch verifies like any other once anchored.
    const { anchored } = await playAnchor(anchors.find((item) => item.batchId === closed.id)!);
    await publish('BatchAnchored', anchored);
    await until(async () => (await statusOf(requestId)) === 'ISSUED', 'ISSUED');
    const single = await modules.verification.verify({ id: joined.id });
    expect(single.verdict).toBe('VALID');
    expect(batchIdToRoot(anchored.batchId)).toBe(joined.leaf);
    expect(cidToDigest(anchored.contentCid)).toBe(cidToDigest(closed.manifestCid!));
  });

  it('closes a batch all at once or not at all, never twice, and a redelivered issuance joins nothing', async () => {
    const { requestId } = await approvedRequest(batched, anvilDevAccounts[9].address);
    const member = await until(async () => {
      const row = await certificateOf(requestId);
      return row?.leaf ? row : undefined;
    }, 'the member to join');
    const before = (await chainCommands('anchorBatch')).length;
    // A content store that is down (a real one, closed): the close fails as a whole.
    const down = await createEmbeddedContentStore({ directory: path.join(contentDir, 'store-down') });
    await down.close();
    const broken = createBatchesManager({
      db: database.db,
      contents: down,
      logger: createLogger('test', { level: 'silent' }),
      maxSize: 3,
      maxWaitSeconds: 3600,
    });
    await expect(broken.closeNow(admin, batched.id)).rejects.toThrow();
    const [stillOpen] = await modules.storage.batches.findByIds([member.batchId!]);
    expect(stillOpen).toMatchObject({ status: 'OPEN', size: 1, merkleRoot: null, manifestCid: null });
    expect((await certificateOf(requestId))!.proof).toBeNull();
    expect(await chainCommands('anchorBatch')).toHaveLength(before);

    // The issuance step delivered again under another event id: the certificate is already a member.
    await publish(RequestEvents.IssuanceRequested, { requestId });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await modules.storage.batches.findByIds([member.batchId!]))[0]!.size).toBe(1);

    // An administrator and the age check at once: one close, one command.
    await Promise.allSettled([
      modules.batches.closeNow(admin, batched.id),
      modules.batches.closeDue(new Date(Date.now() + 2 * 3600_000)),
    ]);
    const anchors = await chainCommands<AnchorBatchCommandPayload>('anchorBatch');
    expect(anchors).toHaveLength(before + 1);
    expect(anchors.filter((item) => item.batchId === member.batchId)).toEqual([
      expect.objectContaining({ size: 1, merkleRoot: member.leaf }),
    ]);
  });
});
