"""MeterReading: registry, readings, batches, tamper flags and every revert path."""

from __future__ import annotations

import pytest
from web3 import Web3

from contracts.roles import GRID_OPERATOR
from tests.contracts.conftest import ALICE, BOB, DEVICE_A, DEVICE_B, METER_A, METER_B, OUTSIDER, Suite

pytestmark = pytest.mark.contracts


def totals(chain: Suite, who: str) -> tuple[int, int]:
    return chain.meter.functions.importedWh(who).call(), chain.meter.functions.exportedWh(who).call()


def test_first_reading_sets_the_baseline_and_later_deltas_count(chain: Suite) -> None:
    chain.reading(METER_A, 10_000, 5_000)
    assert totals(chain, ALICE) == (0, 0)
    receipt = chain.reading(METER_A, 10_400, 5_900)
    assert totals(chain, ALICE) == (400, 900)
    ev = chain.events(chain.meter, "ReadingRecorded", receipt)[0].args
    assert (ev.meterId, ev.participant, ev.importWh, ev.exportWh) == (METER_A, ALICE, 10_400, 5_900)
    assert chain.meter.functions.lastReadingAt(ALICE).call() == ev.timestamp


def test_reading_going_backwards_is_rejected_and_nothing_changes(chain: Suite) -> None:
    chain.reading(METER_A, 10_000, 5_000)
    chain.reading(METER_A, 10_100, 5_000)
    args = chain.reverts(chain.meter.functions.submitReading(METER_A, chain.next_ts(METER_A), 9_999, 5_000, False),
                         "CounterWentBackwards", DEVICE_A)
    assert (args["previousWh"], args["newWh"]) == (10_100, 9_999)
    chain.reverts(chain.meter.functions.submitReading(METER_A, chain.next_ts(METER_A), 10_200, 4_000, False),
                  "CounterWentBackwards", DEVICE_A)
    assert totals(chain, ALICE) == (100, 0)


def test_future_and_replayed_readings_are_rejected(chain: Suite) -> None:
    now = chain.now()
    chain.reverts(chain.meter.functions.submitReading(METER_A, now + 120, 1, 1, False), "TimestampInFuture", DEVICE_A)
    chain.send(chain.meter.functions.submitReading(METER_A, now + 30, 100, 0, False), DEVICE_A)  # 30 s skew is fine
    chain.send(chain.meter.functions.submitReading(METER_A, now + 31, 150, 0, False), DEVICE_A)
    replay = chain.meter.functions.submitReading(METER_A, now + 31, 150, 0, False)
    args = chain.reverts(replay, "ReadingNotNewer", DEVICE_A)
    assert args["lastTimestamp"] == now + 31
    chain.reverts(chain.meter.functions.submitReading(METER_A, now + 20, 200, 0, False), "ReadingNotNewer", DEVICE_A)
    assert totals(chain, ALICE) == (50, 0)


def test_only_the_meters_device_or_an_oracle_submits(chain: Suite) -> None:
    chain.reverts(chain.meter.functions.submitReading(METER_A, chain.now(), 1, 1, False), "NotMeterDevice", DEVICE_B)
    chain.reverts(chain.meter.functions.submitReading(METER_A, chain.now(), 1, 1, False), "NotMeterDevice", OUTSIDER)
    chain.send(chain.meter.functions.submitReading(METER_A, chain.now(), 1, 1, False))  # admin holds ORACLE
    chain.reverts(chain.meter.functions.submitReading(Web3.keccak(text="nope"), chain.now(), 1, 1, False),
                  "UnknownMeter", DEVICE_A)


def test_batch_is_all_or_nothing(chain: Suite) -> None:
    now = chain.now()
    good = [(METER_A, now - 10, 0, 0, False), (METER_A, now - 5, 50, 0, False), (METER_B, now - 5, 0, 0, False)]
    chain.send(chain.meter.functions.submitReadings(good))
    assert totals(chain, ALICE) == (50, 0)
    bad = [(METER_A, now, 80, 0, False), (METER_B, now, 0, 0, False)]  # B's timestamp goes back: replay
    bad[1] = (METER_B, now - 5, 10, 0, False)
    chain.reverts(chain.meter.functions.submitReadings(bad), "ReadingNotNewer")
    assert totals(chain, ALICE) == (50, 0)
    chain.reverts(chain.meter.functions.submitReadings([]), "EmptyBatch")


def test_tampered_readings_are_kept_but_not_counted(chain: Suite) -> None:
    chain.reading(METER_A, 0, 0)
    receipt = chain.reading(METER_A, 100, 100, tamper=True)
    assert chain.events(chain.meter, "TamperFlagged", receipt)[0].args.tampered is True
    assert totals(chain, ALICE) == (0, 0)
    chain.reading(METER_A, 150, 100)
    assert totals(chain, ALICE) == (50, 0)
    chain.send(chain.meter.functions.setTampered(METER_A, True))
    chain.reading(METER_A, 300, 100)
    assert totals(chain, ALICE) == (50, 0)
    chain.send(chain.meter.functions.setTampered(METER_A, False))
    chain.reading(METER_A, 310, 100)
    assert totals(chain, ALICE) == (60, 0)


def test_registration_rules(chain: Suite) -> None:
    args = chain.reverts(chain.meter.functions.registerParticipant(OUTSIDER, "x"), "AccessControlUnauthorizedAccount",
                         ALICE)
    assert args["neededRole"] == GRID_OPERATOR
    chain.reverts(chain.meter.functions.registerParticipant(ALICE, "again"), "AlreadyRegistered")
    chain.reverts(chain.meter.functions.registerMeter(METER_A, ALICE, DEVICE_A), "MeterExists")
    chain.reverts(chain.meter.functions.registerMeter(Web3.keccak(text="m"), OUTSIDER, DEVICE_A), "NotParticipant")
    chain.reverts(chain.meter.functions.registerMeter(Web3.keccak(text="m"), ALICE, "0x" + "00" * 20), "ZeroAddress")
    chain.send(chain.meter.functions.registerParticipant(OUTSIDER, "new house"))
    assert chain.meter.functions.isParticipant(OUTSIDER).call()
    chain.send(chain.meter.functions.removeParticipant(OUTSIDER))
    assert not chain.meter.functions.isParticipant(OUTSIDER).call()
    chain.reverts(chain.meter.functions.removeParticipant(OUTSIDER), "NotParticipant")
    assert BOB


def test_paused_registry_rejects_readings(chain: Suite) -> None:
    chain.send(chain.meter.functions.pause())
    chain.reverts(chain.meter.functions.submitReading(METER_A, chain.now(), 1, 1, False), "EnforcedPause", DEVICE_A)
    chain.send(chain.meter.functions.unpause())
    chain.reading(METER_A, 1, 1)
