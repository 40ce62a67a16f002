// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Roles} from "./Roles.sol";

/// @title "EnergyNet Credit": the demo settlement token (6 decimals). Real deployments name an existing token.
contract EnergyNetCredit is ERC20, AccessControl {
    constructor(address admin) ERC20("EnergyNet Credit", "ENC") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.MINTER, admin);
    }

    /// @notice 6 decimals, like the fiat-backed tokens a real deployment would settle in.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Create `value` base units for `to`. MINTER only.
    function mint(address to, uint256 value) external onlyRole(Roles.MINTER) {
        _mint(to, value);
    }
}
