// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IEnergyTrade} from "./interfaces/IEnergyTrade.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {Operated} from "./Operated.sol";

/// @title Peer-to-peer energy offers with partial fills, cancellation and expiry.
/// @notice Amounts are Wh, prices settlement-token base units per kWh, durations seconds. A buy offer escrows
/// its full value in Settlement when created; a sell offer records a delivery obligation, and whoever takes it
/// pays into escrow. Only registered participants trade. The value of `r` Wh still open is
/// ceil(r * price / 1000), so fills of any size add up to exactly what was escrowed.
contract EnergyTrade is Operated, ReentrancyGuard, IEnergyTrade {
    struct Offer {
        address maker;
        uint40 expiresAt;
        bool isSelling;
        bool closed;
        uint128 remaining;
        uint128 price;
    }

    ISettlement public immutable settlement;
    IParticipantRegistry public immutable registry;
    uint256 public nextOfferId = 1;
    mapping(uint256 offerId => Offer) public offers;

    error NotParticipant(address account);
    error ZeroAmount();
    error ZeroPrice();
    error DurationOutOfRange(uint256 duration);
    error AmountTooLarge(uint256 amount);
    error PriceTooLarge(uint256 price);
    error UnknownOffer(uint256 offerId);
    error OfferClosed(uint256 offerId);
    error OfferExpired(uint256 offerId, uint256 expiredAt);
    error OfferNotExpired(uint256 offerId, uint256 expiresAt);
    error OverFill(uint256 offerId, uint256 requested, uint256 remaining);
    error OwnOffer(uint256 offerId);
    error NotMaker(uint256 offerId, address caller);

    event OfferCreated(
        uint256 indexed offerId, address indexed maker, bool isSelling, uint256 amount, uint256 price, uint40 expiresAt
    );
    event TradeExecuted(
        uint256 indexed offerId, address indexed taker, uint256 amount, uint256 value, uint256 remaining
    );
    event OfferCancelled(uint256 indexed offerId, uint256 unfilled);
    event OfferExpiredClosed(uint256 indexed offerId, uint256 unfilled);

    /// @notice Longest offer lifetime: 7 days.
    uint256 public constant MAX_DURATION = 7 days;

    constructor(address admin, ISettlement settlement_, IParticipantRegistry registry_) Operated(admin) {
        settlement = settlement_;
        registry = registry_;
    }

    /// @inheritdoc IEnergyTrade
    /// @dev Reverts for a caller who is not a registered participant, a zero amount or price, a duration of 0 or
    /// over 7 days. A buy offer needs an allowance on Settlement.
    function createOffer(uint256 amount, uint256 price, uint256 duration, bool isSelling)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 offerId)
    {
        _onlyParticipant();
        if (amount == 0) revert ZeroAmount();
        if (price == 0) revert ZeroPrice();
        if (amount > type(uint128).max) revert AmountTooLarge(amount);
        if (price > type(uint128).max) revert PriceTooLarge(price);
        if (duration == 0 || duration > MAX_DURATION) revert DurationOutOfRange(duration);
        uint256 value = _valueOf(amount, price);
        offerId = nextOfferId++;
        uint40 expiresAt = uint40(block.timestamp + duration);
        offers[offerId] = Offer(msg.sender, expiresAt, isSelling, false, uint128(amount), uint128(price));
        emit OfferCreated(offerId, msg.sender, isSelling, amount, price, expiresAt);
        if (!isSelling) settlement.escrowFrom(msg.sender, value);
    }

    /// @inheritdoc IEnergyTrade
    /// @dev Taking a sell offer pays its value into escrow (allowance on Settlement); taking a buy offer takes
    /// on the delivery. Reverts for unknown, cancelled, expired or over-filled offers and for the maker itself.
    function executeTrade(uint256 offerId, uint256 amount) external nonReentrant whenNotPaused returns (bool) {
        _onlyParticipant();
        Offer storage offer = offers[offerId];
        address maker = offer.maker;
        if (maker == address(0)) revert UnknownOffer(offerId);
        if (offer.closed) revert OfferClosed(offerId);
        if (block.timestamp >= offer.expiresAt) revert OfferExpired(offerId, offer.expiresAt);
        if (maker == msg.sender) revert OwnOffer(offerId);
        uint256 remaining = offer.remaining;
        if (amount == 0) revert ZeroAmount();
        if (amount > remaining) revert OverFill(offerId, amount, remaining);
        uint256 price = offer.price;
        uint256 left = remaining - amount;
        uint256 value = _valueOf(remaining, price) - _valueOf(left, price);
        offer.remaining = uint128(left);
        if (left == 0) offer.closed = true;
        emit TradeExecuted(offerId, msg.sender, amount, value, left);
        if (offer.isSelling) {
            settlement.escrowFrom(msg.sender, value);
            settlement.openTrade(offerId, maker, msg.sender, amount, value);
        } else {
            settlement.openTrade(offerId, msg.sender, maker, amount, value);
        }
        return true;
    }

    /// @notice Withdraw the unfilled part of your offer; a buy offer's unused escrow is credited back.
    function cancelOffer(uint256 offerId) external nonReentrant whenNotPaused {
        Offer storage offer = offers[offerId];
        if (offer.maker == address(0)) revert UnknownOffer(offerId);
        if (offer.maker != msg.sender) revert NotMaker(offerId, msg.sender);
        if (offer.closed) revert OfferClosed(offerId);
        uint256 unfilled = _close(offer);
        emit OfferCancelled(offerId, unfilled);
    }

    /// @notice Close an expired offer and credit a buy offer's unused escrow to its maker. Anyone.
    function closeExpired(uint256 offerId) external nonReentrant whenNotPaused {
        Offer storage offer = offers[offerId];
        if (offer.maker == address(0)) revert UnknownOffer(offerId);
        if (offer.closed) revert OfferClosed(offerId);
        if (block.timestamp < offer.expiresAt) revert OfferNotExpired(offerId, offer.expiresAt);
        uint256 unfilled = _close(offer);
        emit OfferExpiredClosed(offerId, unfilled);
    }

    function _close(Offer storage offer) private returns (uint256 unfilled) {
        unfilled = offer.remaining;
        offer.closed = true;
        offer.remaining = 0;
        if (!offer.isSelling && unfilled > 0) settlement.refund(offer.maker, _valueOf(unfilled, offer.price));
    }

    function _onlyParticipant() private view {
        if (!registry.isParticipant(msg.sender)) revert NotParticipant(msg.sender);
    }

    function _valueOf(uint256 energyWh, uint256 price) private pure returns (uint256) {
        return Math.ceilDiv(energyWh * price, 1000);
    }
}
