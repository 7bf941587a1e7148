// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC5192} from "./IERC5192.sol";
import {ISymbeonCertificate} from "./ISymbeonCertificate.sol";

/// @title Symbeon certificate
/// @notice Soulbound ERC-721 (ERC-5192) with ERC-4906 metadata updates. Certificates are issued, revoked and
/// renewed by ISSUER_ROLE; DEFAULT_ADMIN_ROLE grants and revokes roles.
/// @dev A minimal ERC-721 rather than OpenZeppelin's: nothing is ever transferred or approved, so owners,
/// expiry, issue time and the revoked flag share one storage slot, the token id is the content digest and
/// the token URI is derived from it. An issue writes two fresh slots (the record and the holder's balance).
contract SymbeonCertificate is ISymbeonCertificate, IERC721Metadata, IERC4906, IERC5192, AccessControl {
    /// @notice Role allowed to issue, revoke and renew certificates.
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    bytes4 private constant _ERC4906_INTERFACE_ID = 0x49064906;
    bytes32 private constant _BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
    /// CIDv1 prefix: version 1, raw codec (0x55), sha2-256 (0x12), 32-byte digest (0x20).
    bytes4 private constant _CID_V1_RAW_SHA256 = 0x01551220;

    /// One slot: holder (160 bits) | issuedAt (40) | expiresAt (40) | revoked (8).
    struct Record {
        address holder;
        uint40 issuedAt;
        uint40 expiresAt;
        bool revoked;
    }

    mapping(uint256 tokenId => Record) private _records;
    /// Set only when a renewal changed the metadata document; otherwise the digest is the token id.
    mapping(uint256 tokenId => bytes32) private _renewedDigests;
    mapping(address holder => uint256) private _balances;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (grants ISSUER_ROLE).
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---------------------------------------------------------------- certificates

    /// @inheritdoc ISymbeonCertificate
    function issue(
        address holder,
        bytes32 contentDigest,
        uint64 expiresAt
    ) external virtual onlyRole(ISSUER_ROLE) returns (uint256 tokenId) {
        if (holder == address(0)) revert CertificateZeroHolder();
        if (contentDigest == bytes32(0)) revert CertificateEmptyDigest();
        _checkExpiry(expiresAt);
        tokenId = uint256(contentDigest);
        if (_records[tokenId].holder != address(0)) revert CertificateAlreadyExists(tokenId);

        _records[tokenId] = Record({
            holder: holder,
            issuedAt: uint40(block.timestamp),
            expiresAt: uint40(expiresAt),
            revoked: false
        });
        unchecked {
            // Cannot overflow: one token per distinct 256-bit digest.
            _balances[holder] += 1;
        }

        emit Transfer(address(0), holder, tokenId);
        emit Locked(tokenId);
        emit CertificateIssued(tokenId, holder, _msgSender(), contentDigest, expiresAt);
    }

    /// @inheritdoc ISymbeonCertificate
    function revoke(uint256 tokenId, string calldata reason) external virtual onlyRole(ISSUER_ROLE) {
        Record storage record = _existing(tokenId);
        if (record.revoked) revert CertificateAlreadyRevoked(tokenId);
        record.revoked = true;

        emit CertificateRevoked(tokenId, _msgSender(), reason);
        emit MetadataUpdate(tokenId);
    }

    /// @inheritdoc ISymbeonCertificate
    function renew(
        uint256 tokenId,
        uint64 newExpiresAt,
        bytes32 newContentDigest
    ) external virtual onlyRole(ISSUER_ROLE) {
        Record storage record = _existing(tokenId);
        if (record.revoked) revert CertificateAlreadyRevoked(tokenId);
        if (newContentDigest == bytes32(0)) revert CertificateEmptyDigest();
        _checkExpiry(newExpiresAt);
        record.expiresAt = uint40(newExpiresAt);
        if (_contentDigest(tokenId) != newContentDigest) {
            _renewedDigests[tokenId] = newContentDigest == bytes32(tokenId) ? bytes32(0) : newContentDigest;
        }

        emit CertificateRenewed(tokenId, newExpiresAt, newContentDigest);
        emit MetadataUpdate(tokenId);
    }

    /// @inheritdoc ISymbeonCertificate
    function isValid(uint256 tokenId) external view virtual returns (bool) {
        Record storage record = _records[tokenId];
        return
            record.holder != address(0) &&
            !record.revoked &&
            (record.expiresAt == 0 || block.timestamp < record.expiresAt);
    }

    /// @inheritdoc ISymbeonCertificate
    function certificate(uint256 tokenId) external view virtual returns (CertificateRecord memory) {
        Record storage record = _existing(tokenId);
        return
            CertificateRecord({
                holder: record.holder,
                issuedAt: record.issuedAt,
                expiresAt: record.expiresAt,
                revoked: record.revoked,
                contentDigest: _contentDigest(tokenId)
            });
    }

    // ---------------------------------------------------------------- ERC-721 metadata, ERC-5192

    /// @notice "Symbeon Certificate".
    function name() external pure virtual returns (string memory) {
        return "Symbeon Certificate";
    }

    /// @notice "SYMC".
    function symbol() external pure virtual returns (string memory) {
        return "SYMC";
    }

    /// @notice `ipfs://<CIDv1>` of the certificate's current metadata document (raw codec, sha2-256, base32).
    /// @param tokenId The certificate; reverts when unknown.
    /// @return The URI, derived from the stored digest.
    function tokenURI(uint256 tokenId) external view virtual returns (string memory) {
        _existing(tokenId);
        return string.concat("ipfs://", _cidV1(_contentDigest(tokenId)));
    }

    /// @inheritdoc IERC5192
    function locked(uint256 tokenId) external view virtual returns (bool) {
        _existing(tokenId);
        return true;
    }

    // ---------------------------------------------------------------- ERC-721

    /// @notice Number of certificates `owner` holds, revoked and expired ones included.
    /// @param owner The holder; reverts for the zero address.
    /// @return The count.
    function balanceOf(address owner) external view virtual returns (uint256) {
        if (owner == address(0)) revert CertificateZeroHolder();
        return _balances[owner];
    }

    /// @notice The holder of a certificate. Reverts when unknown.
    /// @param tokenId The certificate.
    /// @return The holder.
    function ownerOf(uint256 tokenId) external view virtual returns (address) {
        return _existing(tokenId).holder;
    }

    /// @notice Always reverts: certificates are soulbound.
    function safeTransferFrom(address, address, uint256, bytes calldata) external pure virtual {
        revert CertificateSoulbound();
    }

    /// @notice Always reverts: certificates are soulbound.
    function safeTransferFrom(address, address, uint256) external pure virtual {
        revert CertificateSoulbound();
    }

    /// @notice Always reverts: certificates are soulbound.
    function transferFrom(address, address, uint256) external pure virtual {
        revert CertificateSoulbound();
    }

    /// @notice Always reverts: certificates are soulbound.
    function approve(address, uint256) external pure virtual {
        revert CertificateSoulbound();
    }

    /// @notice Always reverts: certificates are soulbound.
    function setApprovalForAll(address, bool) external pure virtual {
        revert CertificateSoulbound();
    }

    /// @notice Nobody is ever approved. Reverts for an unknown token.
    /// @param tokenId The certificate.
    /// @return The zero address.
    function getApproved(uint256 tokenId) external view virtual returns (address) {
        _existing(tokenId);
        return address(0);
    }

    /// @notice Nobody is ever approved.
    /// @return False.
    function isApprovedForAll(address, address) external pure virtual returns (bool) {
        return false;
    }

    /// @notice ERC-165: ERC-721, ERC-721 Metadata, ERC-5192, ERC-4906, AccessControl, this contract's interface.
    /// @param interfaceId The interface id.
    /// @return Whether it is supported.
    function supportsInterface(
        bytes4 interfaceId
    ) public view virtual override(AccessControl, IERC165) returns (bool) {
        return
            interfaceId == type(IERC721).interfaceId ||
            interfaceId == type(IERC721Metadata).interfaceId ||
            interfaceId == type(IERC5192).interfaceId ||
            interfaceId == _ERC4906_INTERFACE_ID ||
            interfaceId == type(ISymbeonCertificate).interfaceId ||
            super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------- internals

    function _existing(uint256 tokenId) internal view returns (Record storage record) {
        record = _records[tokenId];
        if (record.holder == address(0)) revert CertificateNotFound(tokenId);
    }

    function _contentDigest(uint256 tokenId) internal view returns (bytes32 digest) {
        digest = _renewedDigests[tokenId];
        if (digest == bytes32(0)) digest = bytes32(tokenId);
    }

    function _checkExpiry(uint64 expiresAt) internal view {
        if (expiresAt != 0 && (expiresAt <= block.timestamp || expiresAt > type(uint40).max)) {
            revert CertificateInvalidExpiry(expiresAt, block.timestamp);
        }
    }

    /// @dev Multibase base32 (RFC 4648 lower case, no padding, prefix "b") of the 36 CID bytes: 58 characters.
    function _cidV1(bytes32 digest) internal pure returns (string memory) {
        bytes memory cid = abi.encodePacked(_CID_V1_RAW_SHA256, digest);
        bytes memory text = new bytes(59);
        text[0] = "b";
        uint256 buffer;
        uint256 bits;
        uint256 next = 1;
        for (uint256 i = 0; i < cid.length; ++i) {
            // Only the low `bits` bits matter; older bits shift out of the word harmlessly.
            buffer = (buffer << 8) | uint8(cid[i]);
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                text[next++] = _BASE32_ALPHABET[(buffer >> bits) & 31];
            }
        }
        if (bits > 0) text[next] = _BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
        return string(text);
    }
}
