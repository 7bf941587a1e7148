// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Crypto payments for orders
/// @notice Payers pay an order (identified off-chain by `orderRef`) in the native coin or an allowed ERC-20;
/// the payments service matches {PaymentReceived} events to its orders.
interface IPaymentReceiver {
    /// @notice `payer` paid `amount` of `token` (address(0): the native coin) for `orderRef`.
    event PaymentReceived(bytes32 indexed orderRef, address indexed payer, address indexed token, uint256 amount);

    /// @notice The admin allowed or disallowed an ERC-20 for payments.
    event TokenAllowedSet(address indexed token, bool allowed);

    /// @notice The admin withdrew `amount` of `token` (address(0): the native coin) to `to`.
    event Withdrawn(address indexed token, address indexed to, uint256 amount);

    /// @notice A payment or withdrawal of nothing.
    error PaymentZeroAmount();

    /// @notice The order reference cannot be zero.
    error PaymentEmptyOrderRef();

    /// @notice This ERC-20 is not accepted.
    error PaymentTokenNotAllowed(address token);

    /// @notice An address that must be set is zero.
    error PaymentZeroAddress();

    /// @notice Sending the native coin to `to` failed.
    error PaymentNativeTransferFailed(address to, uint256 amount);

    /// @notice Pays `orderRef` with the native coin sent along.
    /// @param orderRef The order's reference, as given by the payments service.
    function pay(bytes32 orderRef) external payable;

    /// @notice Pays `orderRef` with `amount` of an allowed ERC-20 (approve this contract first).
    /// @param orderRef The order's reference, as given by the payments service.
    /// @param token The ERC-20.
    /// @param amount Amount in the token's smallest unit; the event states what actually arrived.
    function payToken(bytes32 orderRef, address token, uint256 amount) external;

    /// @notice Allows or disallows an ERC-20. Only DEFAULT_ADMIN_ROLE.
    /// @param token The ERC-20.
    /// @param allowed Whether payments in it are accepted.
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Sends collected funds. Only DEFAULT_ADMIN_ROLE.
    /// @param token The ERC-20, or address(0) for the native coin.
    /// @param to The recipient.
    /// @param amount How much.
    function withdraw(address token, address payable to, uint256 amount) external;

    /// @notice Whether payments in `token` are accepted.
    /// @param token The ERC-20.
    /// @return True when allowed.
    function isTokenAllowed(address token) external view returns (bool);
}
