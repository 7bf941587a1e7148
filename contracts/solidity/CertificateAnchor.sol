// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ICertificateAnchor} from "./ICertificateAnchor.sol";

/// @title Certificate batch anchor
/// @notice Anchors Merkle roots of certificate batches; revokes single certificates of a batch.
/// @dev An anchor writes one fresh slot: the batch id is the root itself, so no counter and no root slot.
contract CertificateAnchor is ICertificateAnchor, AccessControl {
    /// @notice Role allowed to anchor batches and revoke certificates in them.
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    /// One slot: issuer (160 bits) | anchoredAt (64) | size (32).
    mapping(uint256 batchId => Batch) private _batches;
    mapping(uint256 batchId => mapping(bytes32 leaf => bool)) private _revoked;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (grants ISSUER_ROLE).
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc ICertificateAnchor
    function anchorBatch(
        bytes32 merkleRoot,
        uint32 size,
        bytes32 metadataDigest
    ) external virtual onlyRole(ISSUER_ROLE) returns (uint256 batchId) {
        if (merkleRoot == bytes32(0)) revert AnchorEmptyRoot();
        if (size == 0) revert AnchorEmptyBatch();
        batchId = uint256(merkleRoot);
        if (_batches[batchId].issuer != address(0)) revert AnchorBatchAlreadyAnchored(batchId);
        address issuer = _msgSender();
        _batches[batchId] = Batch({issuer: issuer, anchoredAt: uint64(block.timestamp), size: size});

        emit BatchAnchored(batchId, size, metadataDigest, issuer);
    }

    /// @inheritdoc ICertificateAnchor
    function revokeInBatch(uint256 batchId, bytes32 leaf, string calldata reason) external virtual onlyRole(ISSUER_ROLE) {
        if (_batches[batchId].issuer == address(0)) revert AnchorBatchNotFound(batchId);
        if (_revoked[batchId][leaf]) revert AnchorLeafAlreadyRevoked(batchId, leaf);
        _revoked[batchId][leaf] = true;

        emit BatchLeafRevoked(batchId, leaf, _msgSender(), reason);
    }

    /// @inheritdoc ICertificateAnchor
    function verifyInBatch(
        uint256 batchId,
        bytes32 leaf,
        bytes32[] calldata proof
    ) external view virtual returns (bool) {
        if (_batches[batchId].issuer == address(0) || _revoked[batchId][leaf]) return false;
        return MerkleProof.verifyCalldata(proof, bytes32(batchId), leaf);
    }

    /// @inheritdoc ICertificateAnchor
    function isRevokedInBatch(uint256 batchId, bytes32 leaf) external view virtual returns (bool) {
        return _revoked[batchId][leaf];
    }

    /// @inheritdoc ICertificateAnchor
    function batch(uint256 batchId) external view virtual returns (Batch memory stored) {
        stored = _batches[batchId];
        if (stored.issuer == address(0)) revert AnchorBatchNotFound(batchId);
    }

    /// @notice ERC-165: AccessControl and this contract's interface.
    /// @param interfaceId The interface id.
    /// @return Whether it is supported.
    function supportsInterface(bytes4 interfaceId) public view virtual override returns (bool) {
        return interfaceId == type(ICertificateAnchor).interfaceId || super.supportsInterface(interfaceId);
    }
}
