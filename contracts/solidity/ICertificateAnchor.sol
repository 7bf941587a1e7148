// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Batch anchoring of certificates
/// @notice One transaction anchors the Merkle root of many certificates (an OpenZeppelin StandardMerkleTree,
/// double-hashed leaves). A batch is content-addressed: its id is its Merkle root, so anchoring the same
/// batch twice reverts and a verifier holding a proof needs nothing else to find the batch.
interface ICertificateAnchor {
    /// @notice A batch as stored. Its metadata digest is only in {BatchAnchored}.
    struct Batch {
        address issuer;
        uint64 anchoredAt;
        uint32 size;
    }

    /// @notice A batch of `size` certificates was anchored. `batchId` is its Merkle root (the root is not
    /// repeated: 256 gas per batch); `metadataDigest` is the sha-256 digest of the batch's manifest (its CIDv1,
    /// raw codec).
    event BatchAnchored(uint256 indexed batchId, uint32 size, bytes32 metadataDigest, address indexed issuer);

    /// @notice One certificate (leaf) of a batch was revoked.
    event BatchLeafRevoked(uint256 indexed batchId, bytes32 indexed leaf, address indexed revokedBy, string reason);

    /// @notice This Merkle root was already anchored.
    error AnchorBatchAlreadyAnchored(uint256 batchId);

    /// @notice No batch has this id.
    error AnchorBatchNotFound(uint256 batchId);

    /// @notice The Merkle root cannot be zero.
    error AnchorEmptyRoot();

    /// @notice A batch holds at least one certificate.
    error AnchorEmptyBatch();

    /// @notice This leaf of this batch is already revoked.
    error AnchorLeafAlreadyRevoked(uint256 batchId, bytes32 leaf);

    /// @notice Anchors a batch. Only accounts with ISSUER_ROLE.
    /// @param merkleRoot Root of the batch's StandardMerkleTree.
    /// @param size Number of certificates (leaves) in the batch.
    /// @param metadataDigest sha-256 digest of the batch manifest on IPFS.
    /// @return batchId `uint256(merkleRoot)`.
    function anchorBatch(bytes32 merkleRoot, uint32 size, bytes32 metadataDigest) external returns (uint256 batchId);

    /// @notice Revokes one certificate of a batch. Only accounts with ISSUER_ROLE.
    /// @param batchId The batch.
    /// @param leaf The certificate's leaf hash (StandardMerkleTree.leafHash).
    /// @param reason Why, for the public record (kept in the event only).
    function revokeInBatch(uint256 batchId, bytes32 leaf, string calldata reason) external;

    /// @notice Whether `leaf` is in the batch and not revoked.
    /// @param batchId The batch; false when unknown.
    /// @param leaf The certificate's leaf hash (StandardMerkleTree.leafHash, double keccak of its values).
    /// @param proof The Merkle proof (StandardMerkleTree.getProof).
    /// @return True when the certificate is anchored and not revoked.
    function verifyInBatch(uint256 batchId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool);

    /// @notice Whether `leaf` was revoked in the batch.
    /// @param batchId The batch.
    /// @param leaf The certificate's leaf hash.
    /// @return True once {revokeInBatch} was called for it.
    function isRevokedInBatch(uint256 batchId, bytes32 leaf) external view returns (bool);

    /// @notice The stored batch. Reverts when unknown.
    /// @param batchId The batch.
    /// @return Who anchored it, when, and how many certificates it holds.
    function batch(uint256 batchId) external view returns (Batch memory);
}
