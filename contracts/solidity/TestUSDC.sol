// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Test USD Coin
/// @notice A 6-decimal ERC-20 for local chains and tests only; its owner mints at will.
contract TestUSDC is ERC20, Ownable {
    /// @param initialOwner Who may mint.
    constructor(address initialOwner) ERC20("Test USD Coin", "tUSDC") Ownable(initialOwner) {}

    /// @notice 6, like USDC.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` (smallest units) to `to`. Only the owner.
    /// @param to The recipient.
    /// @param amount How much, in millionths.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
