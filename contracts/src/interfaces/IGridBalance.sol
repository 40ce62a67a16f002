// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Grid status and demand response (seed interface; selectors are checked by the tests).
interface IGridBalance {
    /// @notice Publish the grid status: frequency in mHz, voltage in mV, demand and supply in W.
    function updateStatus(uint256 frequency, uint256 voltage, uint256 demand, uint256 supply)
        external
        returns (bool);

    /// @notice Ask participants to reduce load by `reduction` W for `duration` s, paying `compensation`.
    /// @return requestId Identifier of the request.
    function requestDemandResponse(uint256 reduction, uint256 duration, uint256 compensation)
        external
        returns (uint256 requestId);

    /// @notice State a participant's verified reduction (Wh) for demand-response request `requestId`; the
    /// delivered reduction paid on is `verifiedWh` capped at the request's target energy.
    function recordDelivery(uint256 requestId, address participant, uint256 verifiedWh) external;
}
