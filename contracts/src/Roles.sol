// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Role identifiers shared by the EnergyNet contracts.
library Roles {
    bytes32 internal constant GRID_OPERATOR = keccak256("GRID_OPERATOR_ROLE");
    bytes32 internal constant ORACLE = keccak256("ORACLE_ROLE");
    bytes32 internal constant METER = keccak256("METER_ROLE");
    bytes32 internal constant MATCHER = keccak256("MATCHER_ROLE");
    bytes32 internal constant MINTER = keccak256("MINTER_ROLE");
    bytes32 internal constant PAUSER = keccak256("PAUSER_ROLE");
    /// @dev Held by the EnergyTrade contract on Settlement.
    bytes32 internal constant MARKET = keccak256("MARKET_ROLE");
}
