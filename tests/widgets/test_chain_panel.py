"""The chain panel: events in engineering units, local time and enum names; block and balances marked stale
(with their age) while the chain is down; one colour map for the chain's state."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from core.chain import ChainEvent, ChainState, ChainStatus
from widgets.chain_panel import ChainPanel
from widgets.palette import ALERT, EMERGENCY, STALE, TEXT

T_START = 1_764_583_200  # 2025-12-01 10:00:00 UTC


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Berlin")  # local time is UTC+1 in December
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def event(name: str, contract: str, **args: int | str | bool) -> ChainEvent:
    return ChainEvent(10, 0, "0x" + "ab" * 32, contract, name, tuple(args.items()))


EVENTS = (
    event("GridAlert", "GridBalance", kind=0, value=49_971, limit=49_800),
    event("GridAlert", "GridBalance", kind=3, value=253_400, limit=253_000),
    event("StatusUpdated", "GridBalance", frequencyMhz=50_012, voltageMv=229_960, demandW=8_123_400, supplyW=0),
    event("DemandResponseRequested", "GridBalance", requestId=3, reductionW=200_000, start=T_START,
          end=T_START + 1800, compensation=1_500_000),
    event("ReadingRecorded", "MeterReading", meterId="0x" + "12" * 32, participant="0x" + "ab" * 20,
          timestamp=T_START, importWh=12_345, exportWh=0),
    event("AchievementAwarded", "AchievementNFT", holder="0x" + "cd" * 20, kind=2, tokenId=7),
)


def status(state: ChainState, *, block_at: float | None, now: float) -> ChainStatus:
    return ChainStatus(up=state is ChainState.UP, rpc="http://127.0.0.1:8545", chain_id=31337, block=1234,
                       account="0x" + "ef" * 20, eth_balance_wei=2 * 10**18, token_balance=1_500_000,
                       token_decimals=6, pending=(), recent=(), events=EVENTS, error="no answer", state=state,
                       block_at=block_at, now=now)


def test_events_are_shown_in_engineering_units_local_time_and_enum_names(qapp, berlin: None) -> None:  # type: ignore[no-untyped-def]
    panel = ChainPanel()
    panel.show_status(status(ChainState.UP, block_at=100.0, now=101.0))
    rows = [panel.events.item(r, 3).text() for r in range(panel.events.rowCount())]
    assert rows == [
        "kind FrequencyLow, value 49.971 Hz, limit 49.800 Hz",
        "kind VoltageHigh, value 253.4 V, limit 253.0 V",
        "frequencyMhz 50.012 Hz, voltageMv 230.0 V, demandW 8,123.4 kW, supplyW 0.0 kW",
        "requestId 3, reductionW 200.0 kW, start 2025-12-01 11:00:00, end 2025-12-01 11:30:00, "
        "compensation 1.50 ENC",
        "meterId 0x1212…1212, participant 0xabab…abab, timestamp 2025-12-01 11:00:00, importWh 12.345 kWh, "
        "exportWh 0.000 kWh",
        "holder 0xcdcd…cdcd, kind DemandResponder, tokenId 7",
    ]


def test_block_and_balances_are_marked_stale_with_their_age_while_down(qapp) -> None:  # type: ignore[no-untyped-def]
    panel = ChainPanel()
    panel.show_status(status(ChainState.UP, block_at=1000.0, now=1000.5))
    assert panel.block_label.text() == "1,234"
    assert panel.balance_label.text() == "1.50 ENC   2.000 ETH"
    assert panel.block_label.property("state") == "normal" and panel.state_label.property("state") == "normal"
    assert f"color: {TEXT}" in panel.block_label.styleSheet()

    panel.show_status(status(ChainState.DOWN, block_at=1000.0, now=1042.0))
    assert panel.block_label.text() == "1,234  (stale, 42 s old)"
    assert panel.balance_label.text() == "1.50 ENC   2.000 ETH  (stale, 42 s old)"
    assert panel.block_label.property("state") == "stale" and panel.balance_label.property("state") == "stale"
    assert f"color: {STALE}" in panel.balance_label.styleSheet()
    assert panel.state_label.property("state") == "emergency"  # as a disconnected source in the status bar
    assert f"color: {EMERGENCY}" in panel.state_label.styleSheet()

    panel.show_status(status(ChainState.DOWN, block_at=1000.0, now=1000.0 + 3 * 3600))
    assert panel.block_label.text() == "1,234  (stale, 3.0 h old)"

    panel.show_status(status(ChainState.DIFFERENT_CHAIN, block_at=1000.0, now=1600.0))
    assert panel.block_label.text() == "1,234  (stale, 10 min old)"
    assert panel.state_label.property("state") == "alert" and f"color: {ALERT}" in panel.state_label.styleSheet()
    assert not panel.banner.isHidden() and "no answer" in panel.banner.text()


def test_a_fact_too_long_for_its_column_is_cut_with_an_ellipsis_and_whole_in_the_tooltip(qapp) -> None:  # type: ignore[no-untyped-def]
    # The live demo at 1600 px with the chain stopped read "✕ DOWN  no answer from http://127.0.0.1:28545: C",
    # cut mid-word with nothing to say so.
    panel = ChainPanel()
    panel.resize(900, 600)
    panel.show()
    error = ("no answer from http://127.0.0.1:28545: Cannot connect to host 127.0.0.1:28545 ssl:default "
             "[Connect call failed ('127.0.0.1', 28545)]")
    panel.show_status(dataclasses.replace(status(ChainState.DOWN, block_at=1000.0, now=1042.0), error=error))
    qapp.processEvents()
    label = panel.state_label
    assert label.text() == f"✕ DOWN  {error}"  # what was set, whole
    assert label.shown_text().endswith("…") and label.shown_text().startswith("✕ DOWN  no answer")
    assert error in label.toolTip() and "http://127.0.0.1:8545" in label.toolTip()
    assert label.fontMetrics().horizontalAdvance(label.shown_text()) <= label.width()
    panel.close()


def test_a_queued_command_past_its_validity_says_it_will_not_be_sent(qapp) -> None:  # type: ignore[no-untyped-def]
    # Seen on the demo after a chain reset: a DR request valid until 18:55:50 read "queued" with an empty result at
    # 18:56:00, while the operator was asked to resend or discard it.
    from core.chain import TxRecord, TxState

    def queued(key: str, valid_until: float | None) -> TxRecord:
        return TxRecord(key, f"command {key}", TxState.QUEUED, None, None, None, None, None, updated=1000.0,
                        created=1000.0, valid_until=valid_until)

    panel = ChainPanel()
    st = dataclasses.replace(status(ChainState.DIFFERENT_CHAIN, block_at=1000.0, now=1070.0),
                             pending=(queued("dr", 1060.0), queued("status", 1090.0), queued("always", None)))
    panel.show_status(st)
    results = [panel.pending.item(r, 9).text() for r in range(panel.pending.rowCount())]
    assert results == ["past its validity: will not be sent", "", ""]  # 1070 ≥ 1060; 1070 < 1090; no validity
    assert [panel.pending.item(r, 0).text() for r in range(3)] == ["queued"] * 3
