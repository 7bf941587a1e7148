// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IPaymentReceiver} from "./IPaymentReceiver.sol";

/// @title Payment receiver
/// @notice Collects order payments in the native coin and admin-allowed ERC-20s; the admin withdraws them.
contract PaymentReceiver is IPaymentReceiver, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    mapping(address token => bool) private _allowedTokens;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (allows tokens, withdraws).
    constructor(address admin) {
        if (admin == address(0)) revert PaymentZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IPaymentReceiver
    function pay(bytes32 orderRef) external payable virtual {
        if (orderRef == bytes32(0)) revert PaymentEmptyOrderRef();
        if (msg.value == 0) revert PaymentZeroAmount();
        emit PaymentReceived(orderRef, _msgSender(), address(0), msg.value);
    }

    /// @inheritdoc IPaymentReceiver
    function payToken(bytes32 orderRef, address token, uint256 amount) external virtual nonReentrant {
        if (orderRef == bytes32(0)) revert PaymentEmptyOrderRef();
        if (amount == 0) revert PaymentZeroAmount();
        if (!_allowedTokens[token]) revert PaymentTokenNotAllowed(token);
        // What arrived, not what was asked: a token taking a fee on transfer pays less than `amount`.
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(_msgSender(), address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert PaymentZeroAmount();
        emit PaymentReceived(orderRef, _msgSender(), token, received);
    }

    /// @inheritdoc IPaymentReceiver
    function setTokenAllowed(address token, bool allowed) external virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token == address(0)) revert PaymentZeroAddress();
        _allowedTokens[token] = allowed;
        emit TokenAllowedSet(token, allowed);
    }

    /// @inheritdoc IPaymentReceiver
    function withdraw(
        address token,
        address payable to,
        uint256 amount
    ) external virtual onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (to == address(0)) revert PaymentZeroAddress();
        if (amount == 0) revert PaymentZeroAmount();
        if (token == address(0)) {
            (bool sent, ) = to.call{value: amount}("");
            if (!sent) revert PaymentNativeTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
        emit Withdrawn(token, to, amount);
    }

    /// @inheritdoc IPaymentReceiver
    function isTokenAllowed(address token) external view virtual returns (bool) {
        return _allowedTokens[token];
    }

    /// @notice ERC-165: AccessControl and this contract's interface.
    /// @param interfaceId The interface id.
    /// @return Whether it is supported.
    function supportsInterface(bytes4 interfaceId) public view virtual override returns (bool) {
        return interfaceId == type(IPaymentReceiver).interfaceId || super.supportsInterface(interfaceId);
    }
}
