// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Peer-to-peer energy offers and trades (seed interface; selectors are checked by the tests).
interface IEnergyTrade {
    /// @notice Offer `amount` Wh at `price` settlement-token base units per kWh for `duration` seconds.
    /// @return offerId Identifier of the new offer.
    function createOffer(uint256 amount, uint256 price, uint256 duration, bool isSelling)
        external
        returns (uint256 offerId);

    /// @notice Take `amount` Wh of offer `offerId` (partial fills allowed).
    /// @return True when the trade was recorded.
    function executeTrade(uint256 offerId, uint256 amount) external returns (bool);
}
