// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {Operated} from "./Operated.sol";
import {Roles} from "./Roles.sol";

/// @title Participants, their meters and the meters' cumulative energy counters.
/// @notice A meter belongs to one participant and reports through one device account (METER role) or an
/// ORACLE relaying it. Counters are cumulative Wh and never go backwards; a reading must be newer than the
/// meter's last one and at most 60 s ahead of the block. The first reading of a meter sets its baseline;
/// later readings add their deltas to the participant's totals unless flagged as tampered, which keeps them
/// on record but out of settlement.
contract MeterReading is Operated, IParticipantRegistry {
    /// @notice How far a reading's timestamp may lie ahead of the block time.
    uint256 public constant MAX_CLOCK_SKEW = 60;

    struct Meter {
        address participant;
        address device;
        uint64 lastTimestamp;
        bool tampered;
        uint128 importWh;
        uint128 exportWh;
    }

    struct Participant {
        bool registered;
        uint64 lastReadingAt;
        uint128 importedWh;
        uint128 exportedWh;
    }

    /// @notice One reading in a batch.
    struct Reading {
        bytes32 meterId;
        uint64 timestamp;
        uint128 importWh;
        uint128 exportWh;
        bool tamper;
    }

    mapping(bytes32 meterId => Meter) public meters;
    mapping(address account => Participant) public participants;

    error NotParticipant(address account);
    error AlreadyRegistered(address account);
    error MeterExists(bytes32 meterId);
    error UnknownMeter(bytes32 meterId);
    error NotMeterDevice(bytes32 meterId, address caller);
    error ZeroAddress();
    error ReadingNotNewer(bytes32 meterId, uint64 timestamp, uint64 lastTimestamp);
    error TimestampInFuture(bytes32 meterId, uint64 timestamp, uint256 blockTimestamp);
    error CounterWentBackwards(bytes32 meterId, uint128 previousWh, uint128 newWh);
    error EmptyBatch();

    event ParticipantRegistered(address indexed account, string name);
    event ParticipantRemoved(address indexed account);
    event MeterRegistered(bytes32 indexed meterId, address indexed participant, address device);
    event ReadingRecorded(
        bytes32 indexed meterId, address indexed participant, uint64 timestamp, uint128 importWh, uint128 exportWh
    );
    event TamperFlagged(bytes32 indexed meterId, uint64 timestamp, bool tampered);

    constructor(address admin) Operated(admin) {
        // Operators register meters, which grants the device its METER role.
        _setRoleAdmin(Roles.METER, Roles.GRID_OPERATOR);
    }

    /// @notice Admit `account` to the market. GRID_OPERATOR only.
    function registerParticipant(address account, string calldata name)
        external
        onlyRole(Roles.GRID_OPERATOR)
        whenNotPaused
    {
        if (account == address(0)) revert ZeroAddress();
        if (participants[account].registered) revert AlreadyRegistered(account);
        participants[account].registered = true;
        emit ParticipantRegistered(account, name);
    }

    /// @notice Remove `account` from the market; its meters stop counting. GRID_OPERATOR only.
    function removeParticipant(address account) external onlyRole(Roles.GRID_OPERATOR) whenNotPaused {
        if (!participants[account].registered) revert NotParticipant(account);
        participants[account].registered = false;
        emit ParticipantRemoved(account);
    }

    /// @notice Register meter `meterId` of `participant`, read through `device`. GRID_OPERATOR only.
    function registerMeter(bytes32 meterId, address participant, address device)
        external
        onlyRole(Roles.GRID_OPERATOR)
        whenNotPaused
    {
        if (device == address(0)) revert ZeroAddress();
        if (!participants[participant].registered) revert NotParticipant(participant);
        if (meters[meterId].participant != address(0)) revert MeterExists(meterId);
        meters[meterId].participant = participant;
        meters[meterId].device = device;
        _grantRole(Roles.METER, device);
        emit MeterRegistered(meterId, participant, device);
    }

    /// @notice Mark a meter as tampered (its readings stop counting) or clear the mark. GRID_OPERATOR only.
    function setTampered(bytes32 meterId, bool tampered) external onlyRole(Roles.GRID_OPERATOR) whenNotPaused {
        Meter storage meter = meters[meterId];
        if (meter.participant == address(0)) revert UnknownMeter(meterId);
        meter.tampered = tampered;
        emit TamperFlagged(meterId, meter.lastTimestamp, tampered);
    }

    /// @notice Submit one reading of `meterId`: cumulative import and export counters in Wh.
    /// @param tamper True when the field side judged this reading implausible (kept, not settled).
    function submitReading(bytes32 meterId, uint64 timestamp, uint128 importWh, uint128 exportWh, bool tamper)
        external
        whenNotPaused
    {
        _record(Reading(meterId, timestamp, importWh, exportWh, tamper));
    }

    /// @notice Submit several readings at once; one invalid reading rejects the whole batch.
    function submitReadings(Reading[] calldata readings) external whenNotPaused {
        if (readings.length == 0) revert EmptyBatch();
        for (uint256 i = 0; i < readings.length; ++i) {
            _record(readings[i]);
        }
    }

    /// @inheritdoc IParticipantRegistry
    function isParticipant(address account) external view returns (bool) {
        return participants[account].registered;
    }

    /// @inheritdoc IParticipantRegistry
    function exportedWh(address account) external view returns (uint256) {
        return participants[account].exportedWh;
    }

    /// @inheritdoc IParticipantRegistry
    function importedWh(address account) external view returns (uint256) {
        return participants[account].importedWh;
    }

    /// @inheritdoc IParticipantRegistry
    function lastReadingAt(address account) external view returns (uint256) {
        return participants[account].lastReadingAt;
    }

    function _record(Reading memory r) private {
        Meter storage meter = meters[r.meterId];
        address owner = meter.participant;
        if (owner == address(0)) revert UnknownMeter(r.meterId);
        bool isDevice = msg.sender == meter.device && hasRole(Roles.METER, msg.sender);
        if (!isDevice && !hasRole(Roles.ORACLE, msg.sender)) revert NotMeterDevice(r.meterId, msg.sender);
        if (r.timestamp <= meter.lastTimestamp) revert ReadingNotNewer(r.meterId, r.timestamp, meter.lastTimestamp);
        if (r.timestamp > block.timestamp + MAX_CLOCK_SKEW) {
            revert TimestampInFuture(r.meterId, r.timestamp, block.timestamp);
        }
        bool first = meter.lastTimestamp == 0;
        if (!first) {
            if (r.importWh < meter.importWh) revert CounterWentBackwards(r.meterId, meter.importWh, r.importWh);
            if (r.exportWh < meter.exportWh) revert CounterWentBackwards(r.meterId, meter.exportWh, r.exportWh);
        }
        Participant storage p = participants[owner];
        bool counts = !first && !r.tamper && !meter.tampered && p.registered;
        if (counts) {
            p.importedWh += r.importWh - meter.importWh;
            p.exportedWh += r.exportWh - meter.exportWh;
        }
        if (p.registered) p.lastReadingAt = r.timestamp;
        meter.lastTimestamp = r.timestamp;
        meter.importWh = r.importWh;
        meter.exportWh = r.exportWh;
        emit ReadingRecorded(r.meterId, owner, r.timestamp, r.importWh, r.exportWh);
        if (r.tamper) emit TamperFlagged(r.meterId, r.timestamp, true);
    }
}
