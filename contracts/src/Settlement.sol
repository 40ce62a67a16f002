// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {Operated} from "./Operated.sol";
import {Roles} from "./Roles.sol";

/// @title Escrow and settlement of executed trades against metered delivery.
/// @notice The market escrows each trade's value here. After the delivery window a MATCHER proposes the
/// settlement from the seller's metered export not yet allocated to earlier trades; buyer or seller may
/// dispute it within the dispute window (a GRID_OPERATOR then decides), otherwise anyone finalises it.
/// Payouts are credited and pulled with `withdraw`; a fee on the seller's proceeds goes to the grid-fee account.
contract Settlement is Operated, ReentrancyGuard, ISettlement {
    using SafeERC20 for IERC20;

    enum State {
        None,
        Open,
        Proposed,
        Disputed,
        Final
    }

    struct Proposal {
        State state;
        uint64 disputeEnds;
        uint128 deliveredWh;
        uint128 sellerAmount;
        uint128 fee;
        uint128 buyerRefund;
    }

    /// @notice Largest fee: 10 %.
    uint256 public constant MAX_FEE_BPS = 1000;

    IERC20 public immutable token;
    IParticipantRegistry public immutable registry;
    address public feeAccount;
    uint16 public feeBps;
    uint32 public deliveryWindow;
    uint32 public disputeWindow;
    uint256 public nextTradeId = 1;

    /// @dev One slot per trade while it is open: the hash of its terms (see `tradeHash`).
    mapping(uint256 tradeId => bytes32) public tradeCommitment;
    mapping(uint256 tradeId => Proposal) public proposals;
    /// @notice Metered export (Wh) of each seller already used to settle trades; never above `exportedWh`.
    mapping(address seller => uint256) public allocatedExportWh;
    /// @notice Tokens owed to each account, taken with `withdraw`.
    mapping(address account => uint256) public owed;

    error ZeroAddress();
    error FeeTooHigh(uint256 feeBps);
    error UnknownTrade(uint256 tradeId);
    error TermsMismatch(uint256 tradeId);
    error DeliveryNotOver(uint256 tradeId, uint256 deliveryEnd);
    error WrongState(uint256 tradeId, State state);
    error DisputeWindowClosed(uint256 tradeId, uint256 disputeEnds);
    error DisputeWindowOpen(uint256 tradeId, uint256 disputeEnds);
    error NotTradeParty(uint256 tradeId, address caller);
    error DeliveredAboveTraded(uint256 tradeId, uint256 deliveredWh, uint256 energyWh);
    error NothingOwed(address account);

    event Escrowed(address indexed payer, uint256 value);
    event Refunded(address indexed account, uint256 value);
    event TradeOpened(
        uint256 indexed tradeId,
        uint256 indexed offerId,
        address indexed seller,
        address buyer,
        uint256 energyWh,
        uint256 value,
        uint64 deliveryEnd
    );
    event SettlementProposed(
        uint256 indexed tradeId, uint256 deliveredWh, uint256 sellerAmount, uint256 fee, uint256 buyerRefund
    );
    event SettlementDisputed(uint256 indexed tradeId, address indexed by, string reason);
    event SettlementFinalized(uint256 indexed tradeId, uint256 deliveredWh);
    event Withdrawn(address indexed account, uint256 value);
    event ParametersChanged(address feeAccount, uint16 feeBps, uint32 deliveryWindow, uint32 disputeWindow);

    constructor(
        address admin,
        IERC20 token_,
        IParticipantRegistry registry_,
        address feeAccount_,
        uint16 feeBps_,
        uint32 deliveryWindow_,
        uint32 disputeWindow_
    ) Operated(admin) {
        if (address(token_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        token = token_;
        registry = registry_;
        _setParameters(feeAccount_, feeBps_, deliveryWindow_, disputeWindow_);
    }

    /// @notice Change fee account, fee (basis points) and windows (seconds). DEFAULT_ADMIN only.
    function setParameters(address feeAccount_, uint16 feeBps_, uint32 deliveryWindow_, uint32 disputeWindow_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setParameters(feeAccount_, feeBps_, deliveryWindow_, disputeWindow_);
    }

    /// @inheritdoc ISettlement
    function escrowFrom(address payer, uint256 value) external onlyRole(Roles.MARKET) whenNotPaused {
        token.safeTransferFrom(payer, address(this), value);
        emit Escrowed(payer, value);
    }

    /// @inheritdoc ISettlement
    function refund(address account, uint256 value) external onlyRole(Roles.MARKET) {
        owed[account] += value;
        emit Refunded(account, value);
    }

    /// @inheritdoc ISettlement
    function openTrade(uint256 offerId, address seller, address buyer, uint256 energyWh, uint256 value)
        external
        onlyRole(Roles.MARKET)
        whenNotPaused
        returns (uint256 tradeId)
    {
        tradeId = nextTradeId++;
        uint64 deliveryEnd = uint64(block.timestamp) + deliveryWindow;
        tradeCommitment[tradeId] = tradeHash(seller, buyer, energyWh, value, deliveryEnd);
        emit TradeOpened(tradeId, offerId, seller, buyer, energyWh, value, deliveryEnd);
    }

    /// @inheritdoc ISettlement
    /// @dev One call per signed-order match (OrderSettlement): the pull and the trade record together, and the
    /// trade is due by the end of its delivery product rather than `deliveryWindow` from now.
    function escrowAndOpen(address buyer, address seller, uint256 energyWh, uint256 value, uint256 ref, uint64 deliveryEnd)
        external
        onlyRole(Roles.MARKET)
        whenNotPaused
        returns (uint256 tradeId)
    {
        token.safeTransferFrom(buyer, address(this), value);
        tradeId = nextTradeId++;
        tradeCommitment[tradeId] = tradeHash(seller, buyer, energyWh, value, deliveryEnd);
        emit TradeOpened(tradeId, ref, seller, buyer, energyWh, value, deliveryEnd);
    }

    /// @notice Propose the settlement of an open trade from the seller's metered export. MATCHER only.
    /// @dev The terms are passed back (from the TradeOpened event) and checked against the stored hash.
    function proposeSettlement(
        uint256 tradeId,
        address seller,
        address buyer,
        uint256 energyWh,
        uint256 value,
        uint64 deliveryEnd
    ) external onlyRole(Roles.MATCHER) whenNotPaused {
        _checkTerms(tradeId, seller, buyer, energyWh, value, deliveryEnd);
        Proposal storage p = proposals[tradeId];
        if (p.state != State.None) revert WrongState(tradeId, p.state);
        if (block.timestamp < deliveryEnd) revert DeliveryNotOver(tradeId, deliveryEnd);
        uint256 available = registry.exportedWh(seller) - allocatedExportWh[seller];
        uint256 delivered = available < energyWh ? available : energyWh;
        allocatedExportWh[seller] += delivered;
        _propose(tradeId, p, delivered, energyWh, value);
    }

    /// @notice Dispute a proposed settlement within the dispute window. Buyer or seller only.
    function dispute(uint256 tradeId, address seller, address buyer, uint256 energyWh, uint256 value, uint64 end_, string calldata reason)
        external
        whenNotPaused
    {
        _checkTerms(tradeId, seller, buyer, energyWh, value, end_);
        if (msg.sender != seller && msg.sender != buyer) revert NotTradeParty(tradeId, msg.sender);
        Proposal storage p = proposals[tradeId];
        if (p.state != State.Proposed) revert WrongState(tradeId, p.state);
        if (block.timestamp >= p.disputeEnds) revert DisputeWindowClosed(tradeId, p.disputeEnds);
        p.state = State.Disputed;
        emit SettlementDisputed(tradeId, msg.sender, reason);
    }

    /// @notice Decide a disputed settlement with the delivered energy found by the operator. GRID_OPERATOR only.
    function resolveDispute(
        uint256 tradeId,
        address seller,
        address buyer,
        uint256 energyWh,
        uint256 value,
        uint64 deliveryEnd,
        uint256 deliveredWh
    ) external onlyRole(Roles.GRID_OPERATOR) whenNotPaused {
        _checkTerms(tradeId, seller, buyer, energyWh, value, deliveryEnd);
        Proposal storage p = proposals[tradeId];
        if (p.state != State.Disputed) revert WrongState(tradeId, p.state);
        if (deliveredWh > energyWh) revert DeliveredAboveTraded(tradeId, deliveredWh, energyWh);
        // The ruling decides the payout; the allocation only ever takes metered export. Energy found beyond
        // the unallocated export was not on the meter and must not use up (or, allocated beyond the export,
        // underflow `proposeSettlement` for) the seller's later export.
        uint256 allocated = allocatedExportWh[seller] - p.deliveredWh;
        uint256 available = registry.exportedWh(seller) - allocated;
        allocatedExportWh[seller] = allocated + (deliveredWh < available ? deliveredWh : available);
        _propose(tradeId, p, deliveredWh, energyWh, value);
        _finalize(tradeId, p, seller, buyer);
    }

    /// @notice Pay out a proposed settlement once its dispute window has passed. Anyone.
    function finalize(uint256 tradeId, address seller, address buyer, uint256 energyWh, uint256 value, uint64 end_)
        external
        whenNotPaused
    {
        _checkTerms(tradeId, seller, buyer, energyWh, value, end_);
        Proposal storage p = proposals[tradeId];
        if (p.state != State.Proposed) revert WrongState(tradeId, p.state);
        if (block.timestamp < p.disputeEnds) revert DisputeWindowOpen(tradeId, p.disputeEnds);
        _finalize(tradeId, p, seller, buyer);
    }

    /// @notice Transfer every token owed to the caller. Works while paused: owed funds stay reachable.
    function withdraw() external nonReentrant {
        uint256 value = owed[msg.sender];
        if (value == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        token.safeTransfer(msg.sender, value);
        emit Withdrawn(msg.sender, value);
    }

    /// @notice Hash committing to a trade's terms, stored while the trade is open.
    function tradeHash(address seller, address buyer, uint256 energyWh, uint256 value, uint64 deliveryEnd)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(seller, buyer, energyWh, value, deliveryEnd));
    }

    function _checkTerms(
        uint256 tradeId,
        address seller,
        address buyer,
        uint256 energyWh,
        uint256 value,
        uint64 deliveryEnd
    ) private view {
        bytes32 stored = tradeCommitment[tradeId];
        if (stored == bytes32(0)) revert UnknownTrade(tradeId);
        if (stored != tradeHash(seller, buyer, energyWh, value, deliveryEnd)) revert TermsMismatch(tradeId);
    }

    function _propose(uint256 tradeId, Proposal storage p, uint256 delivered, uint256 energyWh, uint256 value)
        private
    {
        uint256 sellerGross = value * delivered / energyWh;
        uint256 fee = sellerGross * feeBps / 10_000;
        p.state = State.Proposed;
        p.disputeEnds = uint64(block.timestamp) + disputeWindow;
        p.deliveredWh = uint128(delivered);
        p.sellerAmount = uint128(sellerGross - fee);
        p.fee = uint128(fee);
        p.buyerRefund = uint128(value - sellerGross);
        emit SettlementProposed(tradeId, delivered, sellerGross - fee, fee, value - sellerGross);
    }

    function _finalize(uint256 tradeId, Proposal storage p, address seller, address buyer) private {
        p.state = State.Final;
        owed[seller] += p.sellerAmount;
        owed[buyer] += p.buyerRefund;
        owed[feeAccount] += p.fee;
        emit SettlementFinalized(tradeId, p.deliveredWh);
    }

    function _setParameters(address feeAccount_, uint16 feeBps_, uint32 deliveryWindow_, uint32 disputeWindow_)
        private
    {
        if (feeAccount_ == address(0)) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        feeAccount = feeAccount_;
        feeBps = feeBps_;
        deliveryWindow = deliveryWindow_;
        disputeWindow = disputeWindow_;
        emit ParametersChanged(feeAccount_, feeBps_, deliveryWindow_, disputeWindow_);
    }
}
