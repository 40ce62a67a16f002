"""The simulated participants as real API clients: a world-format participants file with one keystore per
household, the fleet signing its own orders against a real uvicorn API on a real SQLite journal. Only the
clock is mocked (a June noon, running at wall speed, so PV households have a surplus and EV households a
shortfall whenever the test runs)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from eth_account import Account
from sqlalchemy import select

from console.api.app import ApiServer, create_app
from console.api.participants import ParticipantDirectory
from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from console.store.schema import market_fills
from core.market import MarketRules
from drivers.sim.traders.fleet import KINDS, ORDER_KINDS, Fleet
from drivers.sim.traders.forecast import Forecaster
from drivers.sim.traders.households import HouseholdsError, api_participants_toml, load
from tests.store.test_market_service import snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

PASSWORD = "test-password"


def write_world_participants(folder: Path, n_pv: int = 3, n_ev: int = 3) -> Path:
    """A participants file as ``energynet sim world --participants-out`` writes it (docs/world.md)."""
    (folder / "keys").mkdir()
    people = []
    for i in range(n_pv + n_ev):
        pid = f"household-1-{i + 1}"
        key = "0x" + secrets.token_hex(32)
        store = Account.encrypt(key, PASSWORD, kdf="scrypt", iterations=2**10)
        (folder / "keys" / f"{pid}.json").write_text(json.dumps(store))
        pv = i < n_pv
        people.append({"id": pid, "name": pid, "kind": "household", "bus": f"loadbus_1_{i + 1}", "feeder": 1,
                       "connection": i, "wallet": Account.from_key(key).address, "keystore": f"keys/{pid}.json",
                       "assets": {"pv_kwp": 8.0 if pv else 0.0, "battery_kwh": 0.0, "battery_kw": 0.0,
                                  "ev_charger_kw": 0.0 if pv else 11.0, "heat_pump_kw": 0.0, "wind_kw": 0.0},
                       "devices": []})
    path = folder / "participants.json"
    path.write_text(json.dumps({
        "format": "energynet.participants/1", "written_by": "test", "seed": 1, "start": "2026-06-21T12:00:00+02:00",
        "modbus": {"host": "127.0.0.1", "port": 5020},
        "keystores": {"dir": "keys", "kdf": "scrypt", "password_env": "TEST_NO_SUCH_ENV", "demo_password": PASSWORD},
        "participants": people,
        "background": {"id": "background", "devices": []}}))
    return path


async def test_the_fleet_trades_every_order_type_over_http_without_a_5xx(tmp_path: Path) -> None:
    households = load(write_world_participants(tmp_path))
    assert len(households) == 6 and all(h.key for h in households)
    api_file = tmp_path / "api-participants.toml"
    api_file.write_text(api_participants_toml(households))
    noon = datetime(2026, 6, 21, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    t0 = time.monotonic()

    def clock() -> float:
        return noon + (time.monotonic() - t0)

    forecast = Forecaster()
    pv, ev = households[0], households[-1]
    product = (int(noon) // 900 + 2) * 900
    assert forecast.net_wh(pv, product) > 1000 and forecast.net_wh(ev, product) < -1000  # sellers and buyers

    # The grid has a deficit (demand 42 kW > supply 30 kW): grid-balanced sells help, so they trade.
    service = MarketService(MarketRules(tick=1, lot=100), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.sqlite'}"),
                            grid=snapshot, clock=clock, tick_hz=2.0)
    await service.start()
    app = create_app(service, ParticipantDirectory.load(api_file), rate_per_s=1000, burst=1000, chain_id=31337)
    server = ApiServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        fleet = Fleet(households, server.url, forecast.net_wh, clock=clock, interval_s=0.4, reference_price=250)
        # 18 rounds (7 s on a quiet machine), however long a loaded machine needs for them (at most 60 s):
        # every household sends every order type twice over, whatever the speed of the machine.
        enough = asyncio.Event()

        async def count_rounds() -> None:
            while fleet.rounds < 18:
                await asyncio.sleep(0.05)
            enough.set()

        watcher = asyncio.create_task(count_rounds())
        stats = await fleet.run(seconds=60.0, stop=enough)
        watcher.cancel()
    finally:
        await server.stop()
        await service.stop()
    summary = stats.summary()
    assert stats.errors == [], stats.errors
    assert not [(k, s) for k, c in stats.status.items() for s in c if s >= 500], summary
    assert set(summary) >= set(KINDS), summary  # every order type was sent
    for kind in (*ORDER_KINDS, "execute"):
        assert summary[kind]["traded"] >= 1, (kind, summary)
    for kind in ("modify", "cancel"):
        assert stats.status[kind][200] >= 1, (kind, summary)
    # What the fleet counted is what the book holds: every trade's orders belong to two different households.
    journal = SqlMarketJournal(f"sqlite:///{tmp_path / 'm.sqlite'}")  # (the store has every trade of the run)
    with journal.engine.connect() as conn:
        trades = conn.execute(select(market_fills.c.buyer, market_fills.c.seller)).all()
    journal.close()
    assert trades and all(buyer != seller for buyer, seller in trades)


def test_a_wrong_password_or_a_foreign_key_names_the_participant(tmp_path: Path) -> None:
    path = write_world_participants(tmp_path, n_pv=1, n_ev=1)
    with pytest.raises(HouseholdsError, match=r"participants\[0\] 'household-1-1': keystore .*"):
        load(path, password="wrong")
    doc = json.loads(path.read_text())
    doc["participants"][1]["wallet"] = Account.create().address
    path.write_text(json.dumps(doc))
    with pytest.raises(HouseholdsError, match=r"'household-1-2': keystore .* holds 0x[0-9a-fA-F]{40}, not the wallet"):
        load(path)
    doc["format"] = "energynet.participants/2"
    path.write_text(json.dumps(doc))
    with pytest.raises(HouseholdsError, match=r"format 'energynet\.participants/2'"):
        load(path)


def test_cli_writes_the_consoles_api_participants_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from console.api.participants import token_hash
    from console.cli import main

    path = write_world_participants(tmp_path, n_pv=1, n_ev=1)
    out = tmp_path / "api-participants.toml"
    assert main(["sim", "traders", "--participants", str(path), "--write-api-participants", str(out)]) == 0
    directory = ParticipantDirectory.load(out)  # what the console's [api] participants reads
    for h in load(path):
        p = directory.get(h.id)
        assert p is not None and p.address == h.address and directory.by_token(h.api_token) == p
        assert token_hash(h.api_token) in out.read_text() and h.api_token not in out.read_text()
    assert main(["sim", "traders", "--participants", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read the participants file" in capsys.readouterr().err


async def test_the_demo_flow_traders_write_the_participants_the_console_follows(tmp_path: Path) -> None:
    """As the demo starts them: the console with an empty [api] participants file, the traders process
    (`energynet sim traders --api-participants FILE --wait`) writes it, the console reads it again, the
    traders' signed orders are accepted. Real clock: at night nobody has a surplus, so this checks the flow,
    not trades (the test above does)."""
    import asyncio
    import sys

    participants = write_world_participants(tmp_path, n_pv=1, n_ev=1)
    api_file = tmp_path / "api-participants.toml"
    api_file.write_text("")
    service = MarketService(MarketRules(), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.sqlite'}"))
    await service.start()
    server = ApiServer(create_app(service, ParticipantDirectory.load(api_file), rate_per_s=1000, burst=1000),
                       "127.0.0.1", 0)
    await server.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console", "--log-level", "warning", "sim", "traders", "--participants",
            str(participants), "--api", server.url, "--api-participants", str(api_file), "--wait", "20",
            "--seconds", "3", "--interval", "0.5", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=80)
    finally:
        await server.stop()
        await service.stop()
    assert proc.returncode == 0, err.decode()[-2000:]
    text = out.decode()
    assert "2 participants written to" in text, text
    report = json.loads(text[text.index("{"):])
    statuses: dict[str, int] = {}
    for kind in report["by_type"].values():
        for status, n in kind["status"].items():
            statuses[status] = statuses.get(status, 0) + n
    assert not [s for s in statuses if int(s) >= 500] and report["errors"] == [], report
    assert statuses.get("201", 0) >= 3, report  # the console followed the file: their orders were accepted
    assert {o.participant for o in service.book.orders.values()} == {h.id for h in load(participants)}
