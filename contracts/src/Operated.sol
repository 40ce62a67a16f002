// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Roles} from "./Roles.sol";

/// @title Roles and an emergency stop shared by every EnergyNet contract.
abstract contract Operated is AccessControl, Pausable {
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Stop every state change except withdrawals of funds already owed. PAUSER only.
    function pause() external onlyRole(Roles.PAUSER) {
        _pause();
    }

    /// @notice Resume after `pause`. PAUSER only.
    function unpause() external onlyRole(Roles.PAUSER) {
        _unpause();
    }
}
