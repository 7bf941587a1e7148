// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";

/// @title Naive certificate (gas baseline only, never deployed)
/// @notice What the straightforward OpenZeppelin build costs: ERC721URIStorage with the `ipfs://` URI stored
/// as a string, a token counter, and the digest, expiry and revoked flag in mappings of their own.
contract NaiveCertificate is ERC721URIStorage, AccessControl {
    /// @notice Role allowed to issue, revoke and renew.
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    /// @notice Transfers are refused (soulbound).
    error NaiveCertificateSoulbound();

    uint256 private _nextTokenId = 1;
    /// @notice sha-256 digest of each certificate's metadata document.
    mapping(uint256 tokenId => bytes32) public contentDigestOf;
    /// @notice Expiry of each certificate (0: never).
    mapping(uint256 tokenId => uint64) public expiresAtOf;
    /// @notice Whether each certificate is revoked.
    mapping(uint256 tokenId => bool) public revokedOf;

    /// @param admin Receives DEFAULT_ADMIN_ROLE.
    constructor(address admin) ERC721("Naive Certificate", "NAIVE") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Mints a certificate with its URI stored as a string.
    /// @param holder Who receives it.
    /// @param uri `ipfs://<cid>` of the metadata document.
    /// @param contentDigest sha-256 digest of the metadata document.
    /// @param expiresAt Unix time it expires; 0 for never.
    /// @return tokenId The next id.
    function issue(
        address holder,
        string calldata uri,
        bytes32 contentDigest,
        uint64 expiresAt
    ) external onlyRole(ISSUER_ROLE) returns (uint256 tokenId) {
        tokenId = _nextTokenId++;
        _mint(holder, tokenId);
        _setTokenURI(tokenId, uri);
        contentDigestOf[tokenId] = contentDigest;
        expiresAtOf[tokenId] = expiresAt;
    }

    /// @notice Revokes a certificate.
    /// @param tokenId The certificate.
    function revoke(uint256 tokenId) external onlyRole(ISSUER_ROLE) {
        _requireOwned(tokenId);
        revokedOf[tokenId] = true;
        emit MetadataUpdate(tokenId);
    }

    /// @notice Gives a certificate a new expiry and metadata document.
    /// @param tokenId The certificate.
    /// @param expiresAt New expiry; 0 for never.
    /// @param uri `ipfs://<cid>` of the new metadata document.
    /// @param contentDigest Its sha-256 digest.
    function renew(
        uint256 tokenId,
        uint64 expiresAt,
        string calldata uri,
        bytes32 contentDigest
    ) external onlyRole(ISSUER_ROLE) {
        _requireOwned(tokenId);
        expiresAtOf[tokenId] = expiresAt;
        contentDigestOf[tokenId] = contentDigest;
        _setTokenURI(tokenId, uri);
    }

    /// @notice ERC-165.
    /// @param interfaceId The interface id.
    /// @return Whether it is supported.
    function supportsInterface(
        bytes4 interfaceId
    ) public view override(ERC721URIStorage, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0)) revert NaiveCertificateSoulbound();
    }
}
