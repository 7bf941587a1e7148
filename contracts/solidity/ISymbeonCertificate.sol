// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Symbeon certificates: soulbound, revocable, renewable, content-addressed
/// @notice A certificate's token id is the sha-256 digest of its first metadata document (the digest inside
/// that document's CIDv1), so an issuer knows the id before the transaction is mined and a retried issue
/// reverts instead of minting twice.
interface ISymbeonCertificate {
    /// @notice A certificate as stored. The issuer is not stored: it is in {CertificateIssued}.
    struct CertificateRecord {
        address holder;
        uint64 issuedAt;
        /// 0: never expires.
        uint64 expiresAt;
        bool revoked;
        /// sha-256 digest of the current metadata document (changes on renewal).
        bytes32 contentDigest;
    }

    /// @notice A certificate was minted to `holder`.
    event CertificateIssued(
        uint256 indexed tokenId,
        address indexed holder,
        address indexed issuer,
        bytes32 contentDigest,
        uint64 expiresAt
    );

    /// @notice A certificate was revoked; it stays with its holder, no longer valid.
    event CertificateRevoked(uint256 indexed tokenId, address indexed revokedBy, string reason);

    /// @notice A certificate got a new expiry and metadata document.
    event CertificateRenewed(uint256 indexed tokenId, uint64 newExpiresAt, bytes32 newContentDigest);

    /// @notice Certificates cannot be transferred or approved for transfer (ERC-5192).
    error CertificateSoulbound();

    /// @notice No certificate has this token id.
    error CertificateNotFound(uint256 tokenId);

    /// @notice A certificate with this content digest (token id) was already issued.
    error CertificateAlreadyExists(uint256 tokenId);

    /// @notice The certificate is revoked: it cannot be revoked again nor renewed.
    error CertificateAlreadyRevoked(uint256 tokenId);

    /// @notice An expiry must be 0 (never) or a time after the current block, before year 36812 (uint40).
    error CertificateInvalidExpiry(uint64 expiresAt, uint256 currentTime);

    /// @notice Certificates cannot be issued to (or counted for) the zero address.
    error CertificateZeroHolder();

    /// @notice A content digest cannot be zero.
    error CertificateEmptyDigest();

    /// @notice Mints a soulbound certificate. Only accounts with ISSUER_ROLE.
    /// @param holder Who receives it.
    /// @param contentDigest sha-256 digest of the metadata document (its CIDv1, raw codec, sha2-256).
    /// @param expiresAt Unix time the certificate stops being valid; 0 for never.
    /// @return tokenId `uint256(contentDigest)`.
    function issue(address holder, bytes32 contentDigest, uint64 expiresAt) external returns (uint256 tokenId);

    /// @notice Revokes a certificate for good. Only accounts with ISSUER_ROLE.
    /// @param tokenId The certificate.
    /// @param reason Why, for the public record (kept in the event only).
    function revoke(uint256 tokenId, string calldata reason) external;

    /// @notice Gives a certificate a new expiry and metadata document. Only accounts with ISSUER_ROLE.
    /// Expired certificates can be renewed; revoked ones cannot.
    /// @param tokenId The certificate.
    /// @param newExpiresAt Unix time it stops being valid; 0 for never.
    /// @param newContentDigest sha-256 digest of the new metadata document.
    function renew(uint256 tokenId, uint64 newExpiresAt, bytes32 newContentDigest) external;

    /// @notice Whether the certificate exists, is not revoked and has not expired.
    /// @param tokenId The certificate.
    /// @return True when a verifier should accept it now.
    function isValid(uint256 tokenId) external view returns (bool);

    /// @notice The stored record, for indexers and verifiers. Reverts for an unknown token.
    /// @param tokenId The certificate.
    /// @return The record, with the current content digest.
    function certificate(uint256 tokenId) external view returns (CertificateRecord memory);
}
