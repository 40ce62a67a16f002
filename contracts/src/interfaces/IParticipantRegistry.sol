// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title What the market and the grid contracts read from the meter registry.
interface IParticipantRegistry {
    /// @notice True when `account` is a registered, active market participant.
    function isParticipant(address account) external view returns (bool);

    /// @notice Energy the participant's meters have exported since registration (Wh, settleable readings only).
    function exportedWh(address account) external view returns (uint256);

    /// @notice Energy the participant's meters have imported since registration (Wh, settleable readings only).
    function importedWh(address account) external view returns (uint256);

    /// @notice Timestamp of the participant's latest accepted reading (0 when none).
    function lastReadingAt(address account) external view returns (uint256);
}
