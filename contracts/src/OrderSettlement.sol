// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {Operated} from "./Operated.sol";
import {Roles} from "./Roles.sol";

/// @title Non-custodial settlement of matched, participant-signed orders.
/// @notice Participants sign EIP-712 `Order`s with their own keys (or contract wallets, ERC-1271); the console's
/// off-chain book matches them and a MATCHER settles the matches in batches. For every match this contract checks
/// both signatures, the domain (chain id and this contract's address), validity, cancellation and the filled
/// amounts (no overfill), refuses a match the book numbered at or below the last one settled (no replay), then
/// moves the buyer's payment into `Settlement`'s escrow as a trade due by the end of its delivery period, paid
/// out against the seller's metered export there. A match that fails a check is skipped with `MatchFailed` and
/// its reason: the rest of the batch settles (docs/decisions.md "Signed-order settlement").
contract OrderSettlement is Operated, EIP712, ReentrancyGuard {
    /// @notice The order a participant signs; the same typed data the participant API verifies.
    struct Order {
        address participant;
        uint64 product; // delivery start, epoch s
        uint8 side; // 0 buy, 1 sell
        uint256 quantity; // Wh
        uint256 price; // settlement-token base units per kWh (the limit)
        bool hasPrice; // false: a market-with-limit order without its own limit
        uint8 kind;
        uint8 tif;
        uint64 validFrom; // 0: none
        uint64 validUntil; // 0: none; not valid at or after it
        string condition;
        uint8 grid;
        uint256 nonce;
    }

    /// @notice One trade of the book: the two signed orders, the fill and when the book matched it.
    struct Match {
        uint64 seq; // the book's journal position of the trade: strictly increasing across settled matches
        uint64 matchedAt; // book time of the trade, epoch s
        uint128 quantity; // Wh
        uint128 price; // base units per kWh
        Order buy;
        Order sell;
        bytes buySignature;
        bytes sellSignature;
    }

    enum Failure {
        None,
        Replayed, // seq at or below the last settled match
        NotBuySell, // sides are not buy / sell
        ProductMismatch, // the two orders are for different products
        SelfTrade,
        ZeroQuantity,
        PriceNotCrossed, // the trade price is outside a limit
        BadBuySignature,
        BadSellSignature,
        BuyNotValid, // matched before valid_from or at/after valid_until
        SellNotValid,
        GateClosed, // matched at or after the product's gate closure
        TooLate, // settled after delivery start or more than maxSettleDelay after the match
        MatchedInFuture, // matchedAt after this block
        BuyCancelled,
        SellCancelled,
        BuyOverfill,
        SellOverfill,
        EscrowFailed // the buyer's allowance or balance does not cover the value
    }

    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address participant,uint64 product,uint8 side,uint256 quantity,uint256 price,bool hasPrice,"
        "uint8 kind,uint8 tif,uint64 validFrom,uint64 validUntil,string condition,uint8 grid,uint256 nonce)"
    );
    uint256 private constant CANCELLED = 1 << 255;

    ISettlement public immutable settlement;
    /// @notice Length of a delivery product (s); a trade is due by product + period.
    uint32 public period;
    /// @notice Trading in a product closes this long before delivery (s).
    uint32 public gateClosure;
    /// @notice Longest time between the book's match and its settlement (s).
    uint32 public maxSettleDelay;
    /// @notice The highest match sequence number settled so far.
    uint64 public lastSeq;
    /// @dev Filled Wh of each partly filled order by its EIP-712 digest; the top bit marks a cancelled order.
    mapping(bytes32 orderHash => uint256) private _filled;
    /// @dev One bit per (maker, nonce): set once that order is completely filled. 256 orders share a slot, so a
    /// complete fill (the common case) costs a bit in a warm slot rather than a fresh slot per order.
    mapping(address maker => mapping(uint256 word => uint256)) private _done;

    error EmptyBatch();
    error NotMaker(bytes32 orderHash, address caller);
    error BadParameters();

    event OrderSettled(
        uint64 indexed seq,
        bytes32 indexed buyHash,
        bytes32 indexed sellHash,
        uint256 tradeId,
        uint256 quantity,
        uint256 price,
        uint256 value
    );
    event MatchFailed(uint64 indexed seq, bytes32 indexed buyHash, bytes32 indexed sellHash, Failure reason);
    event OrderCancelled(bytes32 indexed orderHash, address indexed maker, uint256 filled);
    event ParametersChanged(uint32 period, uint32 gateClosure, uint32 maxSettleDelay);

    constructor(address admin, ISettlement settlement_, uint32 period_, uint32 gateClosure_, uint32 maxSettleDelay_)
        Operated(admin)
        EIP712("EnergyNet Market", "1")
    {
        settlement = settlement_;
        _setParameters(period_, gateClosure_, maxSettleDelay_);
    }

    /// @notice Change the product length, gate closure and settlement delay (s). DEFAULT_ADMIN only.
    function setParameters(uint32 period_, uint32 gateClosure_, uint32 maxSettleDelay_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setParameters(period_, gateClosure_, maxSettleDelay_);
    }

    /// @notice Settle matches in book order. MATCHER only. A match failing a check emits `MatchFailed` and is
    /// skipped; the call itself reverts only when empty, paused or not sent by a matcher.
    /// @return settled How many matches settled.
    function settleBatch(Match[] calldata matches)
        external
        onlyRole(Roles.MATCHER)
        whenNotPaused
        nonReentrant
        returns (uint256 settled)
    {
        if (matches.length == 0) revert EmptyBatch();
        uint64 last = lastSeq;
        for (uint256 i = 0; i < matches.length; ++i) {
            Match calldata m = matches[i];
            bytes32 buyHash = hashOrder(m.buy);
            bytes32 sellHash = hashOrder(m.sell);
            Failure f = m.seq <= last ? Failure.Replayed : _check(m, buyHash, sellHash);
            if (f == Failure.None) f = _settle(m, buyHash, sellHash);
            if (f == Failure.None) {
                last = m.seq;
                ++settled;
            } else {
                emit MatchFailed(m.seq, buyHash, sellHash, f);
            }
        }
        lastSeq = last;
    }

    /// @notice Cancel your order: nothing more of it settles (what settled stays). The order's maker only.
    /// @dev Takes the order rather than its hash so the maker is proven without a per-match storage read.
    function cancel(Order calldata order) external whenNotPaused {
        bytes32 h = hashOrder(order);
        if (msg.sender != order.participant) revert NotMaker(h, msg.sender);
        uint256 f = _filled[h];
        _filled[h] = f | CANCELLED;
        emit OrderCancelled(h, msg.sender, f & ~CANCELLED);
    }

    /// @notice Wh of the order settled so far, and whether its maker cancelled it.
    function filled(Order calldata order) external view returns (uint256 wh, bool cancelled) {
        uint256 f = _filled[hashOrder(order)];
        bool done = _done[order.participant][order.nonce >> 8] & (1 << (order.nonce & 0xff)) != 0;
        return (done ? order.quantity : f & ~CANCELLED, f & CANCELLED != 0);
    }

    /// @notice The EIP-712 digest of `order` in this contract's domain: the order id the console uses.
    function hashOrder(Order calldata o) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH,
                    o.participant,
                    o.product,
                    o.side,
                    o.quantity,
                    o.price,
                    o.hasPrice,
                    o.kind,
                    o.tif,
                    o.validFrom,
                    o.validUntil,
                    keccak256(bytes(o.condition)),
                    o.grid,
                    o.nonce
                )
            )
        );
    }

    /// @notice The EIP-712 domain separator (chain id and this contract's address).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _check(Match calldata m, bytes32 buyHash, bytes32 sellHash) private view returns (Failure) {
        Order calldata b = m.buy;
        Order calldata s = m.sell;
        if (b.side != 0 || s.side != 1) return Failure.NotBuySell;
        if (b.product != s.product) return Failure.ProductMismatch;
        if (b.participant == s.participant) return Failure.SelfTrade;
        if (m.quantity == 0) return Failure.ZeroQuantity;
        if ((b.hasPrice && m.price > b.price) || (s.hasPrice && m.price < s.price)) return Failure.PriceNotCrossed;
        uint256 at = m.matchedAt;
        if (at > block.timestamp) return Failure.MatchedInFuture;
        if (at < b.validFrom || (b.validUntil != 0 && at >= b.validUntil)) return Failure.BuyNotValid;
        if (at < s.validFrom || (s.validUntil != 0 && at >= s.validUntil)) return Failure.SellNotValid;
        if (at + gateClosure >= b.product) return Failure.GateClosed;
        if (block.timestamp >= b.product || block.timestamp > at + maxSettleDelay) return Failure.TooLate;
        if (!SignatureChecker.isValidSignatureNow(b.participant, buyHash, m.buySignature)) {
            return Failure.BadBuySignature;
        }
        if (!SignatureChecker.isValidSignatureNow(s.participant, sellHash, m.sellSignature)) {
            return Failure.BadSellSignature;
        }
        return Failure.None;
    }

    function _settle(Match calldata m, bytes32 buyHash, bytes32 sellHash) private returns (Failure) {
        uint256 q = m.quantity;
        uint256 bf = _filled[buyHash];
        uint256 sf = _filled[sellHash];
        if (bf & CANCELLED != 0) return Failure.BuyCancelled;
        if (sf & CANCELLED != 0) return Failure.SellCancelled;
        (bool buyOk, bool buyDone) = _fill(m.buy, buyHash, bf, q);
        if (!buyOk) return Failure.BuyOverfill;
        (bool sellOk, bool sellDone) = _fill(m.sell, sellHash, sf, q);
        if (!sellOk) {
            _undo(m.buy, buyHash, bf, buyDone);
            return Failure.SellOverfill;
        }
        if (_pay(m, buyHash, sellHash)) return Failure.None;
        _undo(m.buy, buyHash, bf, buyDone);
        _undo(m.sell, sellHash, sf, sellDone);
        return Failure.EscrowFailed;
    }

    /// @dev Escrow the buyer's payment as a Settlement trade; false when the pull failed (allowance, balance).
    function _pay(Match calldata m, bytes32 buyHash, bytes32 sellHash) private returns (bool) {
        uint256 value = Math.ceilDiv(uint256(m.quantity) * m.price, 1000);
        // Settlement is ours; the token may not be: a failed pull undoes this match only.
        try settlement.escrowAndOpen(
            m.buy.participant, m.sell.participant, m.quantity, value, m.seq, m.buy.product + period
        ) returns (uint256 tradeId) {
            emit OrderSettled(m.seq, buyHash, sellHash, tradeId, m.quantity, m.price, value);
            return true;
        } catch {
            return false;
        }
    }

    /// @dev Record `q` more Wh of `o` (filled `f` so far): false when that would overfill (nothing written);
    /// `completed` when it filled the order completely (its done bit was set).
    function _fill(Order calldata o, bytes32 h, uint256 f, uint256 q) private returns (bool ok, bool completed) {
        mapping(uint256 => uint256) storage words = _done[o.participant];
        uint256 word = words[o.nonce >> 8];
        uint256 bit = 1 << (o.nonce & 0xff);
        uint256 total = f + q;
        if (word & bit != 0 || total > o.quantity) return (false, false);
        if (total < o.quantity) {
            _filled[h] = total;
            return (true, false);
        }
        words[o.nonce >> 8] = word | bit;
        if (f != 0) _filled[h] = total; // a partly filled order completes: keep its figure exact
        return (true, true);
    }

    /// @dev Undo what `_fill` wrote for `o`.
    function _undo(Order calldata o, bytes32 h, uint256 f, bool completed) private {
        if (completed) _done[o.participant][o.nonce >> 8] &= ~(1 << (o.nonce & 0xff));
        _filled[h] = f;
    }

    function _setParameters(uint32 period_, uint32 gateClosure_, uint32 maxSettleDelay_) private {
        if (period_ == 0 || maxSettleDelay_ == 0) revert BadParameters();
        period = period_;
        gateClosure = gateClosure_;
        maxSettleDelay = maxSettleDelay_;
        emit ParametersChanged(period_, gateClosure_, maxSettleDelay_);
    }
}
