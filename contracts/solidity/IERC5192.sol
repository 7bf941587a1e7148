// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ERC-5192: Minimal Soulbound NFTs
/// @notice Interface id 0xb45a3c0e. A locked token cannot be transferred.
interface IERC5192 {
    /// @notice Emitted when the locking status of a token changes to locked (here: once, at mint).
    event Locked(uint256 tokenId);

    /// @notice Emitted when the locking status of a token changes to unlocked (never, here).
    event Unlocked(uint256 tokenId);

    /// @notice Whether `tokenId` is locked. Reverts for a token that does not exist.
    /// @param tokenId The token to look at.
    /// @return True when the token cannot be transferred.
    function locked(uint256 tokenId) external view returns (bool);
}
