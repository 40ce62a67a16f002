// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title What the market contract asks of settlement (called only by a contract holding MARKET_ROLE).
interface ISettlement {
    /// @notice Pull `value` settlement tokens from `payer` into escrow.
    function escrowFrom(address payer, uint256 value) external;

    /// @notice Credit `value` escrowed tokens back to `account` (withdrawn later with `withdraw`).
    function refund(address account, uint256 value) external;

    /// @notice Record an executed trade whose `value` is already in escrow.
    /// @return tradeId Identifier of the trade.
    function openTrade(uint256 offerId, address seller, address buyer, uint256 energyWh, uint256 value)
        external
        returns (uint256 tradeId);

    /// @notice Pull `value` from `buyer` into escrow and record the trade, due by `deliveryEnd` (a signed-order
    /// match: `ref` is the book's sequence number of the trade).
    /// @return tradeId Identifier of the trade.
    function escrowAndOpen(
        address buyer,
        address seller,
        uint256 energyWh,
        uint256 value,
        uint256 ref,
        uint64 deliveryEnd
    ) external returns (uint256 tradeId);
}
