import { randomBytes } from 'node:crypto';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { hexlify, id } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateAnchorAbi, certificateAnchorBytecode, ISSUER_ROLE } from '../src/index.js';
import {
  as,
  deploy,
  eventsOf,
  expectRevert,
  interfaceId,
  mined,
  startChain,
  type Chain,
  type ContractOf,
} from './chain.js';

type Anchor = ContractOf<typeof certificateAnchorAbi>;
/** A batch certificate's leaf values: holder, content digest, expiry. */
type Leaf = [string, string, bigint];
const LEAF_ENCODING = ['address', 'bytes32', 'uint64'];

const randomDigest = () => hexlify(randomBytes(32));

function batchOf(size: number): StandardMerkleTree<Leaf> {
  const leaves = Array.from({ length: size }, (_, index): Leaf => [
    hexlify(randomBytes(20)),
    randomDigest(),
    BigInt(1_900_000_000 + index),
  ]);
  return StandardMerkleTree.of(leaves, LEAF_ENCODING);
}

let chain: Chain;
let anchor: Anchor;
let asIssuer: Anchor;
const thousand = batchOf(1000);

beforeAll(async () => {
  chain = await startChain();
  anchor = await deploy(chain.admin, certificateAnchorAbi, certificateAnchorBytecode, chain.admin.address);
  await mined(anchor.grantRole(ISSUER_ROLE, chain.issuer.address));
  asIssuer = as(anchor, chain.issuer);
});

afterAll(async () => {
  await chain?.stop();
});

describe('anchorBatch', () => {
  it('anchors a batch of 1,000 under its root as batch id for at most 50 gas per certificate', async () => {
    const metadataDigest = randomDigest();
    const batchId = BigInt(thousand.root);
    expect(await asIssuer.anchorBatch.staticCall(thousand.root, 1000, metadataDigest)).toBe(batchId);
    const receipt = await mined(asIssuer.anchorBatch(thousand.root, 1000, metadataDigest));

    expect([...eventsOf(receipt, anchor, 'BatchAnchored')[0]!.args]).toEqual([
      batchId,
      1000n,
      metadataDigest,
      chain.issuer.address,
    ]);
    const block = await chain.provider.getBlock(receipt.blockNumber);
    const stored = await anchor.batch(batchId);
    expect(stored.issuer).toBe(chain.issuer.address);
    expect(stored.anchoredAt).toBe(BigInt(block!.timestamp));
    expect(stored.size).toBe(1000n);

    const perCertificate = Number(receipt.gasUsed) / 1000;
    expect(perCertificate).toBeLessThanOrEqual(50);
  });

  it('refuses the same root twice, an empty root and an empty batch', async () => {
    const batch = batchOf(3);
    await mined(asIssuer.anchorBatch(batch.root, 3, randomDigest()));
    await expectRevert(
      anchor,
      asIssuer.anchorBatch(batch.root, 3, randomDigest()),
      'AnchorBatchAlreadyAnchored',
      [BigInt(batch.root)],
    );
    await expectRevert(
      anchor,
      asIssuer.anchorBatch(`0x${'00'.repeat(32)}`, 3, randomDigest()),
      'AnchorEmptyRoot',
    );
    await expectRevert(anchor, asIssuer.anchorBatch(batchOf(2).root, 0, randomDigest()), 'AnchorEmptyBatch');
  });

  it('lets only ISSUER_ROLE anchor and revoke', async () => {
    const batch = batchOf(2);
    const asStranger = as(anchor, chain.stranger);
    await expectRevert(
      anchor,
      asStranger.anchorBatch(batch.root, 2, randomDigest()),
      'AccessControlUnauthorizedAccount',
      [chain.stranger.address, ISSUER_ROLE],
    );
    await expectRevert(
      anchor,
      anchor.anchorBatch(batch.root, 2, randomDigest()),
      'AccessControlUnauthorizedAccount',
      [chain.admin.address, ISSUER_ROLE],
    );
    await mined(asIssuer.anchorBatch(batch.root, 2, randomDigest()));
    const leaf = batch.leafHash(batch.at(0)!);
    await expectRevert(
      anchor,
      asStranger.revokeInBatch(BigInt(batch.root), leaf, 'no'),
      'AccessControlUnauthorizedAccount',
      [chain.stranger.address, ISSUER_ROLE],
    );
    expect(await anchor.isRevokedInBatch(BigInt(batch.root), leaf)).toBe(false);
    expect(await anchor.ISSUER_ROLE()).toBe(id('ISSUER_ROLE'));
  });
});

describe('verifyInBatch', () => {
  it('accepts StandardMerkleTree proofs of anchored leaves', async () => {
    const batchId = BigInt(thousand.root);
    for (const index of [0, 1, 499, 998, 999]) {
      const value = thousand.at(index)!;
      const leaf = thousand.leafHash(value);
      const proof = thousand.getProof(index);
      expect(await anchor.verifyInBatch(batchId, leaf, proof), `leaf ${index}`).toBe(true);
    }
  });

  it('rejects a wrong leaf, a proof of another leaf, another batch and an unknown batch', async () => {
    const batchId = BigInt(thousand.root);
    const proof = thousand.getProof(7);
    const leaf = thousand.leafHash(thousand.at(7)!);
    // A leaf that is not in the tree (values changed), with the proof of leaf 7.
    const [holder, digest] = thousand.at(7)!;
    const forged = StandardMerkleTree.of<Leaf>([[holder, digest, 1n]], LEAF_ENCODING);
    expect(await anchor.verifyInBatch(batchId, forged.leafHash(forged.at(0)!), proof)).toBe(false);
    // The single-hashed leaf (not what StandardMerkleTree commits to).
    expect(await anchor.verifyInBatch(batchId, id('not a leaf'), proof)).toBe(false);
    // Leaf 8 with leaf 7's proof.
    expect(await anchor.verifyInBatch(batchId, thousand.leafHash(thousand.at(8)!), proof)).toBe(false);
    // The right leaf and proof against another anchored batch, and against a batch never anchored.
    const other = batchOf(4);
    await mined(asIssuer.anchorBatch(other.root, 4, randomDigest()));
    expect(await anchor.verifyInBatch(BigInt(other.root), leaf, proof)).toBe(false);
    expect(await anchor.verifyInBatch(BigInt(randomDigest()), leaf, proof)).toBe(false);
    // The genuine pair still verifies.
    expect(await anchor.verifyInBatch(batchId, leaf, proof)).toBe(true);
  });

  it('rejects the root of an unanchored tree even with a valid proof', async () => {
    const unanchored = batchOf(5);
    const leaf = unanchored.leafHash(unanchored.at(2)!);
    expect(
      StandardMerkleTree.verify(unanchored.root, LEAF_ENCODING, unanchored.at(2)!, unanchored.getProof(2)),
    ).toBe(true);
    expect(await anchor.verifyInBatch(BigInt(unanchored.root), leaf, unanchored.getProof(2))).toBe(false);
    await expectRevert(anchor, anchor.batch(BigInt(unanchored.root)), 'AnchorBatchNotFound', [
      BigInt(unanchored.root),
    ]);
  });
});

describe('revokeInBatch', () => {
  it('invalidates one certificate of a batch and leaves the others valid', async () => {
    const batch = batchOf(16);
    const batchId = BigInt(batch.root);
    await mined(asIssuer.anchorBatch(batch.root, 16, randomDigest()));
    const revoked = batch.leafHash(batch.at(3)!);
    const kept = batch.leafHash(batch.at(4)!);
    expect(await anchor.verifyInBatch(batchId, revoked, batch.getProof(3))).toBe(true);

    const receipt = await mined(asIssuer.revokeInBatch(batchId, revoked, 'diploma withdrawn'));
    expect([...eventsOf(receipt, anchor, 'BatchLeafRevoked')[0]!.args]).toEqual([
      batchId,
      revoked,
      chain.issuer.address,
      'diploma withdrawn',
    ]);
    expect(await anchor.isRevokedInBatch(batchId, revoked)).toBe(true);
    expect(await anchor.verifyInBatch(batchId, revoked, batch.getProof(3))).toBe(false);
    expect(await anchor.verifyInBatch(batchId, kept, batch.getProof(4))).toBe(true);

    await expectRevert(
      anchor,
      asIssuer.revokeInBatch(batchId, revoked, 'again'),
      'AnchorLeafAlreadyRevoked',
      [batchId, revoked],
    );
    const unknown = BigInt(randomDigest());
    await expectRevert(anchor, asIssuer.revokeInBatch(unknown, revoked, 'x'), 'AnchorBatchNotFound', [
      unknown,
    ]);
  });
});

describe('ERC-165', () => {
  it('supports ERC-165, AccessControl and ICertificateAnchor, not random ids', async () => {
    expect(await anchor.supportsInterface('0x01ffc9a7')).toBe(true);
    expect(await anchor.supportsInterface('0x7965db0b')).toBe(true);
    const ownInterface = interfaceId([
      'anchorBatch(bytes32,uint32,bytes32)',
      'revokeInBatch(uint256,bytes32,string)',
      'verifyInBatch(uint256,bytes32,bytes32[])',
      'isRevokedInBatch(uint256,bytes32)',
      'batch(uint256)',
    ]);
    expect(await anchor.supportsInterface(ownInterface)).toBe(true);
    expect(await anchor.supportsInterface('0xdeadbeef')).toBe(false);
  });
});
