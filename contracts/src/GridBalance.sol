// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IGridBalance} from "./interfaces/IGridBalance.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {Operated} from "./Operated.sol";
import {Roles} from "./Roles.sol";

/// @title Latest grid status, band alerts and demand-response requests with metered verification.
/// @notice Demand response: a GRID_OPERATOR escrows the compensation; participants opt in before the event
/// ends; after it an ORACLE states each participant's verified reduction (Wh, its M&V over the event's
/// settlement intervals) once the participant's meter has read past the end. The delivered reduction is the
/// verified one capped at the request's target; the metered import from opt-in to the last reading is emitted
/// beside it for audit. Compensation is paid pro rata to delivery, never more than the share of the requested
/// energy.
contract GridBalance is Operated, ReentrancyGuard, IGridBalance {
    using SafeERC20 for IERC20;

    /// @notice Latest status, one storage slot.
    struct Status {
        uint32 frequencyMhz;
        uint32 voltageMv;
        uint64 demandW;
        uint64 supplyW;
        uint64 updatedAt;
    }

    /// @notice Bands outside which `updateStatus` raises a GridAlert, one storage slot.
    struct Bands {
        uint32 frequencyMinMhz;
        uint32 frequencyMaxMhz;
        uint32 voltageMinMv;
        uint32 voltageMaxMv;
    }

    struct Request {
        uint64 start;
        uint64 end;
        uint64 claimsFrom;
        bool reclaimed;
        uint128 compensation;
        uint128 targetWh;
        uint128 totalDeliveredWh;
    }

    struct Enrollment {
        bool optedIn;
        bool recorded;
        bool claimed;
        uint128 importAtOptInWh;
        uint128 deliveredWh;
    }

    enum AlertKind {
        FrequencyLow,
        FrequencyHigh,
        VoltageLow,
        VoltageHigh
    }

    IERC20 public immutable token;
    IParticipantRegistry public immutable registry;
    Status public status;
    Bands public bands;
    uint32 public noticePeriod;
    uint32 public verificationWindow;
    uint256 public nextRequestId = 1;
    mapping(uint256 requestId => Request) public requests;
    mapping(uint256 requestId => mapping(address participant => Enrollment)) public enrollments;

    error NotOracleOrOperator(address caller);
    error ValueOutOfRange(string field, uint256 value);
    error InvalidBands();
    error ZeroAddress();
    error NotParticipant(address account);
    error UnknownRequest(uint256 requestId);
    error EventEnded(uint256 requestId, uint256 end);
    error EventNotEnded(uint256 requestId, uint256 end);
    error VerificationClosed(uint256 requestId, uint256 claimsFrom);
    error ClaimsNotOpen(uint256 requestId, uint256 claimsFrom);
    error AlreadyOptedIn(uint256 requestId, address participant);
    error NotOptedIn(uint256 requestId, address participant);
    error AlreadyRecorded(uint256 requestId, address participant);
    error NotRecorded(uint256 requestId, address participant);
    error ReadingsIncomplete(uint256 requestId, address participant, uint256 lastReadingAt, uint256 end);
    error AlreadyClaimed(uint256 requestId, address participant);
    error AlreadyReclaimed(uint256 requestId);

    event StatusUpdated(uint256 frequencyMhz, uint256 voltageMv, uint256 demandW, uint256 supplyW);
    event GridAlert(AlertKind indexed kind, uint256 value, uint256 limit);
    event BandsChanged(uint32 frequencyMinMhz, uint32 frequencyMaxMhz, uint32 voltageMinMv, uint32 voltageMaxMv);
    event DemandResponseRequested(
        uint256 indexed requestId, uint256 reductionW, uint64 start, uint64 end, uint256 compensation
    );
    event OptedIn(uint256 indexed requestId, address indexed participant, uint256 importWh);
    /// @notice `verifiedWh` as the oracle stated it, `meteredImportWh` the participant's metered import from
    /// opt-in to its last reading (audit only), `deliveredWh` what is paid on: min(verifiedWh, targetWh).
    event DeliveryVerified(
        uint256 indexed requestId,
        address indexed participant,
        uint256 verifiedWh,
        uint256 meteredImportWh,
        uint256 deliveredWh
    );
    event CompensationClaimed(uint256 indexed requestId, address indexed participant, uint256 value);
    event UnusedReclaimed(uint256 indexed requestId, address indexed to, uint256 value);

    constructor(
        address admin,
        IERC20 token_,
        IParticipantRegistry registry_,
        uint32 noticePeriod_,
        uint32 verificationWindow_
    ) Operated(admin) {
        if (address(token_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        token = token_;
        registry = registry_;
        noticePeriod = noticePeriod_;
        verificationWindow = verificationWindow_;
        // ENTSO-E normal band and EN 50160 ±10 % of 230 V.
        _setBands(Bands(49_800, 50_200, 207_000, 253_000));
    }

    /// @notice Change the alert bands. GRID_OPERATOR only.
    function setBands(Bands calldata newBands) external onlyRole(Roles.GRID_OPERATOR) {
        _setBands(newBands);
    }

    /// @inheritdoc IGridBalance
    /// @dev ORACLE or GRID_OPERATOR. Emits StatusUpdated, and GridAlert for each value outside its band.
    function updateStatus(uint256 frequency, uint256 voltage, uint256 demand, uint256 supply)
        external
        whenNotPaused
        returns (bool)
    {
        if (!hasRole(Roles.ORACLE, msg.sender) && !hasRole(Roles.GRID_OPERATOR, msg.sender)) {
            revert NotOracleOrOperator(msg.sender);
        }
        if (frequency > type(uint32).max) revert ValueOutOfRange("frequency", frequency);
        if (voltage > type(uint32).max) revert ValueOutOfRange("voltage", voltage);
        if (demand > type(uint64).max) revert ValueOutOfRange("demand", demand);
        if (supply > type(uint64).max) revert ValueOutOfRange("supply", supply);
        status = Status(uint32(frequency), uint32(voltage), uint64(demand), uint64(supply), uint64(block.timestamp));
        emit StatusUpdated(frequency, voltage, demand, supply);
        Bands memory b = bands;
        if (frequency < b.frequencyMinMhz) emit GridAlert(AlertKind.FrequencyLow, frequency, b.frequencyMinMhz);
        else if (frequency > b.frequencyMaxMhz) emit GridAlert(AlertKind.FrequencyHigh, frequency, b.frequencyMaxMhz);
        if (voltage < b.voltageMinMv) emit GridAlert(AlertKind.VoltageLow, voltage, b.voltageMinMv);
        else if (voltage > b.voltageMaxMv) emit GridAlert(AlertKind.VoltageHigh, voltage, b.voltageMaxMv);
        return true;
    }

    /// @inheritdoc IGridBalance
    /// @dev GRID_OPERATOR only; needs an allowance of `compensation` on this contract. The event starts after
    /// the notice period; claims open `verificationWindow` seconds after it ends.
    function requestDemandResponse(uint256 reduction, uint256 duration, uint256 compensation)
        external
        onlyRole(Roles.GRID_OPERATOR)
        nonReentrant
        whenNotPaused
        returns (uint256 requestId)
    {
        if (reduction == 0 || reduction > type(uint64).max) revert ValueOutOfRange("reduction", reduction);
        if (duration == 0 || duration > 1 days) revert ValueOutOfRange("duration", duration);
        if (compensation == 0 || compensation > type(uint128).max) {
            revert ValueOutOfRange("compensation", compensation);
        }
        requestId = nextRequestId++;
        uint64 start = uint64(block.timestamp) + noticePeriod;
        uint64 end = start + uint64(duration);
        requests[requestId] = Request({
            start: start,
            end: end,
            claimsFrom: end + verificationWindow,
            reclaimed: false,
            compensation: uint128(compensation),
            targetWh: uint128(Math.ceilDiv(reduction * duration, 3600)),
            totalDeliveredWh: 0
        });
        emit DemandResponseRequested(requestId, reduction, start, end, compensation);
        token.safeTransferFrom(msg.sender, address(this), compensation);
    }

    /// @notice Join demand-response request `requestId` before it ends. Registered participants only.
    function optIn(uint256 requestId) external whenNotPaused {
        if (!registry.isParticipant(msg.sender)) revert NotParticipant(msg.sender);
        Request storage r = _request(requestId);
        if (block.timestamp >= r.end) revert EventEnded(requestId, r.end);
        Enrollment storage e = enrollments[requestId][msg.sender];
        if (e.optedIn) revert AlreadyOptedIn(requestId, msg.sender);
        uint256 importWh = registry.importedWh(msg.sender);
        e.optedIn = true;
        e.importAtOptInWh = uint128(importWh);
        emit OptedIn(requestId, msg.sender, importWh);
    }

    /// @inheritdoc IGridBalance
    /// @dev ORACLE only, between the event's end and the close of verification, once per opted-in participant,
    /// and only once the participant's meter has read past the end (so the statement is made on complete
    /// metering). The metered import since opt-in is emitted in DeliveryVerified for audit; it is not paid on.
    function recordDelivery(uint256 requestId, address participant, uint256 verifiedWh)
        external
        onlyRole(Roles.ORACLE)
        whenNotPaused
    {
        Request storage r = _request(requestId);
        if (block.timestamp < r.end) revert EventNotEnded(requestId, r.end);
        if (block.timestamp >= r.claimsFrom) revert VerificationClosed(requestId, r.claimsFrom);
        Enrollment storage e = enrollments[requestId][participant];
        if (!e.optedIn) revert NotOptedIn(requestId, participant);
        if (e.recorded) revert AlreadyRecorded(requestId, participant);
        uint256 lastReading = registry.lastReadingAt(participant);
        if (lastReading < r.end) revert ReadingsIncomplete(requestId, participant, lastReading, r.end);
        uint256 meteredImport = registry.importedWh(participant) - e.importAtOptInWh;
        uint256 delivered = verifiedWh < r.targetWh ? verifiedWh : r.targetWh;
        e.recorded = true;
        e.deliveredWh = uint128(delivered);
        r.totalDeliveredWh += uint128(delivered);
        emit DeliveryVerified(requestId, participant, verifiedWh, meteredImport, delivered);
    }

    /// @notice Take your share of the compensation once the verification window has passed.
    function claimCompensation(uint256 requestId) external nonReentrant {
        Request storage r = _request(requestId);
        if (block.timestamp < r.claimsFrom) revert ClaimsNotOpen(requestId, r.claimsFrom);
        Enrollment storage e = enrollments[requestId][msg.sender];
        if (!e.recorded) revert NotRecorded(requestId, msg.sender);
        if (e.claimed) revert AlreadyClaimed(requestId, msg.sender);
        e.claimed = true;
        uint256 value = Math.mulDiv(r.compensation, e.deliveredWh, _payoutBasis(r));
        emit CompensationClaimed(requestId, msg.sender, value);
        if (value > 0) token.safeTransfer(msg.sender, value);
    }

    /// @notice Return the compensation not earned by delivery to the caller. GRID_OPERATOR only.
    function reclaimUnused(uint256 requestId) external onlyRole(Roles.GRID_OPERATOR) nonReentrant {
        Request storage r = _request(requestId);
        if (block.timestamp < r.claimsFrom) revert ClaimsNotOpen(requestId, r.claimsFrom);
        if (r.reclaimed) revert AlreadyReclaimed(requestId);
        r.reclaimed = true;
        uint256 value = r.compensation - Math.mulDiv(r.compensation, r.totalDeliveredWh, _payoutBasis(r));
        emit UnusedReclaimed(requestId, msg.sender, value);
        if (value > 0) token.safeTransfer(msg.sender, value);
    }

    function _payoutBasis(Request storage r) private view returns (uint256) {
        return r.totalDeliveredWh > r.targetWh ? r.totalDeliveredWh : r.targetWh;
    }

    function _request(uint256 requestId) private view returns (Request storage r) {
        r = requests[requestId];
        if (r.end == 0) revert UnknownRequest(requestId);
    }

    function _setBands(Bands memory b) private {
        if (b.frequencyMinMhz >= b.frequencyMaxMhz || b.voltageMinMv >= b.voltageMaxMv) revert InvalidBands();
        bands = b;
        emit BandsChanged(b.frequencyMinMhz, b.frequencyMaxMhz, b.voltageMinMv, b.voltageMaxMv);
    }
}
