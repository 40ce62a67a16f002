// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Test double: an ERC-20 whose transfers call back into a target to attempt reentrancy.
/// @dev Used only by the test suite; a failed callback bubbles its revert reason up.
contract MaliciousToken is ERC20 {
    address public target;
    bytes public payload;
    bool private _inHook;

    constructor() ERC20("Malicious", "EVIL") {}

    function mint(address to, uint256 value) external {
        _mint(to, value);
    }

    /// @notice Arm the hook: every later transfer calls `target` with `payload_` once.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (target != address(0) && !_inHook) {
            _inHook = true;
            (bool ok, bytes memory reason) = target.call(payload);
            if (!ok) {
                assembly {
                    revert(add(reason, 32), mload(reason))
                }
            }
            _inHook = false;
        }
    }
}
