import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { cidToDigest } from '@symbeon/contracts';
import { AbiCoder, getAddress, keccak256 } from 'ethers';

/**
 * A batch certificate's leaf, as CertificateAnchor and the contracts' tests encode it (OpenZeppelin's
 * StandardMerkleTree): keccak256(keccak256(abi.encode(holder, metadata sha-256, expiresAt))). The metadata's
 * sha-256 is its CID's digest, and the metadata names the credential and the badge by CID, so the leaf commits
 * to all three documents — as a single certificate's token id does.
 */
export const LEAF_ENCODING = ['address', 'bytes32', 'uint64'];

/** holder (EIP-55), metadata digest (0x-hex sha-256), expiresAt (Unix seconds, decimal; '0' never). */
export type LeafValues = [string, string, string];

export function leafValues(holder: string, metadataCid: string, expiresAt: Date | null): LeafValues {
  return [
    getAddress(holder),
    cidToDigest(metadataCid),
    expiresAt ? String(Math.floor(expiresAt.getTime() / 1000)) : '0',
  ];
}

export function leafHash(values: LeafValues): string {
  return keccak256(keccak256(AbiCoder.defaultAbiCoder().encode(LEAF_ENCODING, values)));
}

/** 0x + 64 lower-case hex of a uint256 batch id (the on-chain batch id is uint256(root)). */
export const batchIdToRoot = (batchId: string | bigint) =>
  `0x${BigInt(batchId).toString(16).padStart(64, '0')}`;
export const rootToBatchId = (root: string) => BigInt(root).toString();

export interface BuiltBatch {
  root: string;
  /** Per member, in the order given: its leaf and proof. */
  members: Array<{ leaf: string; proof: string[] }>;
  tree: ReturnType<StandardMerkleTree<LeafValues>['dump']>;
}

/** The tree over the members' leaf values (the library sorts leaves; proofs are per value). */
export function buildBatch(values: readonly LeafValues[]): BuiltBatch {
  const tree = StandardMerkleTree.of<LeafValues>([...values], LEAF_ENCODING);
  return {
    root: tree.root.toLowerCase(),
    members: values.map((value) => ({ leaf: tree.leafHash(value), proof: tree.getProof(value) })),
    tree: tree.dump(),
  };
}

/** Recomputes the path from the leaf values through the proof; true when it ends at the root. */
export function proofLeadsToRoot(root: string, values: LeafValues, proof: readonly string[]): boolean {
  try {
    return StandardMerkleTree.verify(root, LEAF_ENCODING, values, [...proof]);
  } catch {
    return false;
  }
}
