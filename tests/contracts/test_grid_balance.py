"""GridBalance on a real anvil: status and band alerts; demand response with metered verification."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.roles import GRID_OPERATOR
from tests.contracts.conftest import ADMIN, ALICE, BOB, CAROL, METER_A, METER_B, OUTSIDER, Suite

pytestmark = pytest.mark.contracts
NOTICE, VERIFY = 60, 3600  # deploy defaults
COMP = 1_000 * 10**6  # 1,000 ENC


def test_status_is_stored_and_alerts_only_outside_the_bands(chain: Suite) -> None:
    receipt = chain.send(chain.grid.functions.updateStatus(50_010, 231_000, 8_000_000, 8_100_000))
    assert chain.events(chain.grid, "StatusUpdated", receipt)[0].args.frequencyMhz == 50_010
    assert not chain.events(chain.grid, "GridAlert", receipt)
    freq, volt, demand, supply, at = chain.grid.functions.status().call()
    assert (freq, volt, demand, supply) == (50_010, 231_000, 8_000_000, 8_100_000) and at == chain.now()
    cases = [((49_700, 231_000), [(0, 49_700)]), ((50_300, 231_000), [(1, 50_300)]),
             ((50_000, 200_000), [(2, 200_000)]), ((49_000, 260_000), [(0, 49_000), (3, 260_000)])]
    for (f, v), expected in cases:
        receipt = chain.send(chain.grid.functions.updateStatus(f, v, 1, 1))
        assert [(e.args.kind, e.args.value) for e in chain.events(chain.grid, "GridAlert", receipt)] == expected


def test_status_needs_oracle_or_operator_and_sane_values(chain: Suite) -> None:
    chain.send(chain.grid.functions.updateStatus(50_000, 230_000, 1, 1))
    stored = chain.grid.functions.status().call()
    args = chain.reverts(chain.grid.functions.updateStatus(50_000, 230_000, 1, 1), "NotOracleOrOperator", OUTSIDER)
    assert args["caller"] == OUTSIDER.lower()  # decoded revert arguments are raw ABI values
    for i, (field, bits) in enumerate((("frequency", 32), ("voltage", 32), ("demand", 64), ("supply", 64))):
        values = [50_000, 230_000, 1, 1]
        values[i] = 2**bits
        args = chain.reverts(chain.grid.functions.updateStatus(*values), "ValueOutOfRange")
        assert (args["field"], args["value"]) == (field, 2**bits)
    chain.send(chain.grid.functions.pause())
    chain.reverts(chain.grid.functions.updateStatus(50_000, 230_000, 1, 1), "EnforcedPause")
    assert chain.grid.functions.status().call() == stored
    chain.send(chain.grid.functions.unpause())
    for bad in ((50_100, 50_000, 1, 2), (50_000, 50_000, 1, 2), (49_900, 50_100, 240_000, 220_000)):
        chain.reverts(chain.grid.functions.setBands(bad), "InvalidBands")
    assert chain.grid.functions.bands().call() == [49_800, 50_200, 207_000, 253_000]  # deploy defaults
    chain.reverts(chain.grid.functions.setBands((49_900, 50_100, 1, 2)), "AccessControlUnauthorizedAccount", BOB)
    chain.send(chain.grid.functions.setBands((49_900, 50_100, 220_000, 240_000)))
    receipt = chain.send(chain.grid.functions.updateStatus(49_850, 230_000, 1, 1))
    assert chain.events(chain.grid, "GridAlert", receipt)[0].args.limit == 49_900


def request(chain: Suite, reduction: int = 10_000, duration: int = 3600, comp: int = COMP) -> tuple[int, int, int]:
    receipt = chain.send(chain.grid.functions.requestDemandResponse(reduction, duration, comp))
    ev = chain.events(chain.grid, "DemandResponseRequested", receipt)[0].args
    return ev.requestId, ev.start, ev.end


def run_event(chain: Suite, verified: dict[str, int], used: dict[str, int], reduction: int = 10_000,
              comp: int = COMP) -> tuple[int, dict[str, Any]]:
    """Request `reduction` W for 1 h (default 10 kW: target 10 kWh); ALICE and BOB opt in, import `used` Wh,
    and the oracle states their verified reductions. Returns the request id, with claims open, and each
    DeliveryVerified event's arguments."""
    rid, _, end = request(chain, reduction=reduction, comp=comp)
    for meter in (METER_A, METER_B):
        chain.reading(meter, 1_000, 0)
    for who in (ALICE, BOB):
        chain.send(chain.grid.functions.optIn(rid), who)
    chain.warp(end - chain.now() + 1)
    chain.reading(METER_A, 1_000 + used[ALICE], 0)
    chain.reading(METER_B, 1_000 + used[BOB], 0)
    events = {}
    for who in (ALICE, BOB):
        receipt = chain.send(chain.grid.functions.recordDelivery(rid, who, verified[who]))
        events[who] = chain.events(chain.grid, "DeliveryVerified", receipt)[0].args
    chain.warp(VERIFY)
    return rid, events


def test_request_escrows_the_compensation_and_opt_in_records_the_import(chain: Suite) -> None:
    admin0, grid0 = chain.balance(ADMIN), chain.balance(chain.grid.address)
    expected = chain.grid.functions.requestDemandResponse(10_000, 3600, COMP).call({"from": ADMIN})
    receipt = chain.send(chain.grid.functions.requestDemandResponse(10_000, 3600, COMP))
    ev = chain.events(chain.grid, "DemandResponseRequested", receipt)[0].args
    at = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert (ev.requestId, ev.reductionW, ev.start, ev.end, ev.compensation) == (
        expected, 10_000, at + NOTICE, at + NOTICE + 3600, COMP)
    assert (admin0 - chain.balance(ADMIN), chain.balance(chain.grid.address) - grid0) == (COMP, COMP)
    # start, end, claimsFrom, reclaimed, compensation, targetWh (10 kW for 1 h), totalDeliveredWh
    assert chain.grid.functions.requests(ev.requestId).call() == [
        ev.start, ev.end, ev.end + VERIFY, False, COMP, 10_000, 0]
    chain.reading(METER_A, 1_000, 0)
    chain.reading(METER_A, 1_250, 0)  # 250 Wh imported before opting in
    receipt = chain.send(chain.grid.functions.optIn(ev.requestId), ALICE)
    opted = chain.events(chain.grid, "OptedIn", receipt)[0].args
    assert (opted.requestId, opted.participant, opted.importWh) == (ev.requestId, ALICE, 250)
    # optedIn, recorded, claimed, importAtOptInWh, deliveredWh
    assert chain.grid.functions.enrollments(ev.requestId, ALICE).call() == [True, False, False, 250, 0]


def test_demand_response_escrows_and_pays_pro_rata_to_verified_delivery(chain: Suite) -> None:
    admin0 = chain.balance(ADMIN)
    rid, verified = run_event(chain, verified={ALICE: 6_000, BOB: 1_000}, used={ALICE: 3_000, BOB: 4_000})
    assert admin0 - chain.balance(ADMIN) == COMP
    # delivered = the verified reduction (below the 10 kWh target); the metered import is only reported
    assert [(v.verifiedWh, v.meteredImportWh, v.deliveredWh) for v in verified.values()] == [
        (6_000, 3_000, 6_000), (1_000, 4_000, 1_000)]
    assert chain.grid.functions.requests(rid).call()[6] == 7_000
    # Alice delivered 6 kWh, Bob 1 kWh, of the 10 kWh asked: they earn 60 % and 10 % of the compensation.
    alice0, bob0 = chain.balance(ALICE), chain.balance(BOB)
    receipt = chain.send(chain.grid.functions.claimCompensation(rid), ALICE)
    assert chain.events(chain.grid, "CompensationClaimed", receipt)[0].args.value == 600_000_000
    chain.send(chain.grid.functions.claimCompensation(rid), BOB)
    assert chain.balance(ALICE) - alice0 == 600_000_000
    assert chain.balance(BOB) - bob0 == 100_000_000
    held = chain.balance(chain.grid.address)
    args = chain.reverts(chain.grid.functions.claimCompensation(rid), "AlreadyClaimed", ALICE)
    assert (args["requestId"], args["participant"]) == (rid, ALICE.lower())
    assert chain.balance(ALICE) - alice0 == 600_000_000
    assert chain.balance(chain.grid.address) == held
    chain.reverts(chain.grid.functions.reclaimUnused(rid), "AccessControlUnauthorizedAccount", ALICE)
    admin1 = chain.balance(ADMIN)
    receipt = chain.send(chain.grid.functions.reclaimUnused(rid))
    assert chain.events(chain.grid, "UnusedReclaimed", receipt)[0].args.value == 300_000_000
    assert chain.balance(ADMIN) - admin1 == 300_000_000
    chain.reverts(chain.grid.functions.reclaimUnused(rid), "AlreadyReclaimed")
    assert chain.balance(ADMIN) - admin1 == 300_000_000
    assert chain.balance(chain.grid.address) == 0


def test_over_delivery_shares_the_compensation_by_the_verified_total(chain: Suite) -> None:
    # target 2 kW x 1 h = 2 000 Wh, 1 000 000 base units; verified 1 500 + 800 = 2 300 Wh > target, so the
    # basis is 2 300: Alice floor(1e6 x 1 500 / 2 300) = 652 173, Bob floor(1e6 x 800 / 2 300) = 347 826.
    rid, verified = run_event(chain, verified={ALICE: 1_500, BOB: 800}, used={ALICE: 100, BOB: 2_000},
                              reduction=2_000, comp=1_000_000)
    assert [(v.verifiedWh, v.meteredImportWh, v.deliveredWh) for v in verified.values()] == [
        (1_500, 100, 1_500), (800, 2_000, 800)]
    assert chain.grid.functions.requests(rid).call()[5:] == [2_000, 2_300]
    alice0, bob0 = chain.balance(ALICE), chain.balance(BOB)
    chain.send(chain.grid.functions.claimCompensation(rid), ALICE)
    chain.send(chain.grid.functions.claimCompensation(rid), BOB)
    assert (chain.balance(ALICE) - alice0, chain.balance(BOB) - bob0) == (652_173, 347_826)
    # reclaim = 1 000 000 - floor(1e6 x 2 300 / 2 300) = 0: the 1 base unit of rounding dust stays escrowed
    receipt = chain.send(chain.grid.functions.reclaimUnused(rid))
    assert chain.events(chain.grid, "UnusedReclaimed", receipt)[0].args.value == 0
    assert chain.balance(chain.grid.address) == 1


def test_verified_above_the_target_is_capped_and_zero_pays_nothing(chain: Suite) -> None:
    rid, verified = run_event(chain, verified={ALICE: 25_000, BOB: 0}, used={ALICE: 0, BOB: 0})
    assert [(v.verifiedWh, v.deliveredWh) for v in verified.values()] == [(25_000, 10_000), (0, 0)]
    assert chain.grid.functions.enrollments(rid, ALICE).call()[4] == 10_000
    alice0, bob0 = chain.balance(ALICE), chain.balance(BOB)
    chain.send(chain.grid.functions.claimCompensation(rid), ALICE)
    receipt = chain.send(chain.grid.functions.claimCompensation(rid), BOB)
    assert chain.events(chain.grid, "CompensationClaimed", receipt)[0].args.value == 0
    # Alice is capped at the 10 kWh target, which is the whole compensation; Bob verified nothing.
    assert (chain.balance(ALICE) - alice0, chain.balance(BOB) - bob0) == (COMP, 0)
    assert chain.balance(chain.grid.address) == 0


def test_demand_response_revert_paths(chain: Suite) -> None:
    chain.reverts(chain.grid.functions.requestDemandResponse(1, 60, COMP), "AccessControlUnauthorizedAccount", BOB)
    for args in ((0, 60, COMP), (1, 0, COMP), (1, 2 * 86_400, COMP), (1, 60, 0)):
        chain.reverts(chain.grid.functions.requestDemandResponse(*args), "ValueOutOfRange")
    rid, _, end = request(chain, duration=600)
    chain.reverts(chain.grid.functions.optIn(rid), "NotParticipant", OUTSIDER)
    chain.reverts(chain.grid.functions.optIn(99), "UnknownRequest", ALICE)
    chain.send(chain.grid.functions.optIn(rid), ALICE)
    chain.send(chain.grid.functions.optIn(rid), BOB)
    chain.reverts(chain.grid.functions.optIn(rid), "AlreadyOptedIn", ALICE)
    chain.reading(METER_A, 0, 0)  # Alice's meter reports during the event, then falls silent
    last = chain.meter.functions.lastReadingAt(ALICE).call()
    assert last < end
    chain.reverts(chain.grid.functions.recordDelivery(rid, ALICE, 100), "EventNotEnded")
    chain.warp(end - chain.now() + 1)
    chain.reverts(chain.grid.functions.optIn(rid), "EventEnded", CAROL)
    args = chain.reverts(chain.grid.functions.recordDelivery(rid, ALICE, 100), "ReadingsIncomplete")
    assert (args["lastReadingAt"], args["end"]) == (last, end)
    args = chain.reverts(chain.grid.functions.recordDelivery(rid, BOB, 100), "ReadingsIncomplete")  # none at all
    assert args["lastReadingAt"] == 0
    chain.reading(METER_A, 0, 0)  # through the end
    chain.reverts(chain.grid.functions.recordDelivery(rid, ALICE, 100), "AccessControlUnauthorizedAccount", BOB)
    chain.reverts(chain.grid.functions.recordDelivery(rid, CAROL, 100), "NotOptedIn")
    chain.send(chain.grid.functions.recordDelivery(rid, ALICE, 100))
    chain.reverts(chain.grid.functions.recordDelivery(rid, ALICE, 100), "AlreadyRecorded")
    chain.reverts(chain.grid.functions.claimCompensation(rid), "ClaimsNotOpen", ALICE)
    chain.reverts(chain.grid.functions.reclaimUnused(rid), "ClaimsNotOpen")
    chain.warp(VERIFY)
    chain.reverts(chain.grid.functions.recordDelivery(rid, BOB, 100), "VerificationClosed")
    chain.reverts(chain.grid.functions.claimCompensation(rid), "NotRecorded", BOB)
    assert chain.grid.functions.hasRole(GRID_OPERATOR, ADMIN).call()
