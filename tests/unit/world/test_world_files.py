"""The world's files: scenarios (and their errors), the participants file, resources/world.toml."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from drivers.sim.world.console_config import default_console_config
from drivers.sim.world.modbus_face import world_layout
from drivers.sim.world.model import World
from drivers.sim.world.participants import (
    ParticipantDevice,
    ParticipantsFileError,
    load_participants,
    write_participants,
)
from drivers.sim.world.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[3]


def test_the_demo_scenario_loads_in_time_order() -> None:
    s = load_scenario(ROOT / "resources/scenarios/demo.toml")
    assert s.name == "demo"
    assert [e.kind for e in s.events] == ["clouds", "trip", "clouds", "silent", "tamper", "island", "reconnect"]
    assert [e.at_s for e in s.events] == sorted(e.at_s for e in s.events)
    assert s.events[1].args == {"watts": 1.5e9}


def test_every_problem_of_a_scenario_is_named_with_file_event_key_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[events]]\nat_s = 10\nkind = "trp"\n\n[[events]]\nat_s = -1\nkind = "island"\n\n'
                    '[[events]]\nat_s = 5\nkind = "clouds"\ncover = 1.5\n\n'
                    '[[events]]\nat_s = 5\nkind = "tamper"\ndevice = 3\nwatts = 2\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    lines = str(e.value).splitlines()
    assert lines == [
        f"{path}: events[0].kind: 'trp' is not an event; use one of trip, clouds, island, reconnect, "
        "community_battery, silent, tamper, pv_limit",
        f"{path}: events[1].at_s: write the simulated second (≥ 0) the island happens, e.g. at_s = 60",
        f"{path}: events[2].cover: 1.5 is not a number within 0–1",
        f"{path}: events[3].watts: a tamper event has no key 'watts' (its keys: device, share)",
        f"{path}: events[3].share: a tamper event needs share (e.g. share = 1.0)",
    ]


def test_a_scenario_that_is_not_toml_or_has_no_events_says_so(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[[events]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"x\.toml: not valid TOML"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"empty\.toml: events: no \[\[events\]\]"):
        parse_scenario({"scenario": {"name": "e"}}, "empty.toml")
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenario(tmp_path / "missing.toml")


def test_the_participants_file_lists_every_served_participant_with_its_devices_and_keystore(tmp_path: Path) -> None:
    from eth_account import Account

    world = World()
    devices = world_layout(world.participants, 24, world.network.feeder_ends)
    start = datetime(2026, 6, 22, 11, tzinfo=ZoneInfo("Europe/Berlin"))
    path = tmp_path / "demo" / "participants.json"
    book = write_participants(path, world.participants, devices, host="127.0.0.1", modbus_port=5020, seed=1,
                              start=start, scrypt_n=2**4)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "energynet.participants/1" and doc["start"] == "2026-06-22T11:00:00+02:00"
    assert doc["modbus"] == {"host": "127.0.0.1", "port": 5020}
    served = {d.connection for d in devices if d.connection >= 0}
    assert len(book.participants) == len(served) == 43
    farm = next(p for p in book.participants if p.name == "prosumer 2-6")
    assert (farm.id, farm.kind, farm.bus, farm.feeder) == ("prosumer-2-6", "prosumer", "loadbus_2_6", 2)
    assert [(d.kind, d.device_id, d.name) for d in farm.devices] == [
        ("meter", 8, "prosumer-2-6"), ("pv", 9, "prosumer-2-6-pv"), ("wind", 10, "prosumer-2-6-wind")]
    n = len(devices)  # the background: its meter, its PV and its batteries summed into one device each
    assert book.background == (ParticipantDevice("meter", n - 2, "background", False),
                               ParticipantDevice("pv", n - 1, "background-pv", False),
                               ParticipantDevice("battery", n, "background-battery", False))
    ids = [d.device_id for p in book.participants for d in p.devices] + [n - 2, n - 1, n]
    assert sorted(ids) == list(range(1, len(devices) + 1))
    # each wallet is the address of the participant's own keystore, which only the password opens
    assert len({p.wallet for p in book.participants}) == 43
    assert farm.keystore == path.parent / "keys" / "prosumer-2-6.json"
    keystore = json.loads(farm.keystore.read_text(encoding="utf-8"))
    assert keystore["crypto"]["kdf"] == "scrypt" and keystore["crypto"]["kdfparams"]["n"] == 2**4
    assert Account.from_key(Account.decrypt(keystore, "energynet-demo")).address == farm.wallet
    with pytest.raises(ValueError, match="MAC mismatch"):
        Account.decrypt(keystore, "wrong")
    assert farm.keystore.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert "private" not in path.read_text(encoding="utf-8").lower()  # addresses only in the file
    # written again over the same folder: the keys are kept, so are the addresses
    again = write_participants(path, world.participants, devices, host="127.0.0.1", modbus_port=5020, seed=1,
                               start=start, scrypt_n=2**4)
    assert [p.wallet for p in again.participants] == [p.wallet for p in book.participants]


def test_a_participants_file_with_problems_names_each_entry_and_key(tmp_path: Path) -> None:
    path = tmp_path / "participants.json"
    with pytest.raises(ParticipantsFileError, match="no participants file"):
        load_participants(path)
    path.write_text(json.dumps({"format": "energynet.participants/9"}), encoding="utf-8")
    with pytest.raises(ParticipantsFileError, match=r"format 'energynet\.participants/9' is not"):
        load_participants(path)
    path.write_text(json.dumps({
        "format": "energynet.participants/1", "start": "2026-06-22T11:00:00+02:00",
        "modbus": {"host": "127.0.0.1", "port": 5020},
        "participants": [{"id": "a", "name": "a", "kind": "household", "bus": "b", "feeder": 1, "connection": 0,
                          "wallet": "0x12", "keystore": "keys/a.json", "devices": [{"kind": "meter", "name": "a"}]}],
    }), encoding="utf-8")
    with pytest.raises(ParticipantsFileError) as e:
        load_participants(path)
    assert str(e.value).splitlines()[1:] == [
        "  participants[0].wallet: '0x12' is not a 0x-prefixed 20-byte address",
        "  participants[0].devices[0].device_id: expected int, got None",
    ]


def test_resources_world_toml_is_what_the_default_world_serves() -> None:
    assert (ROOT / "resources/world.toml").read_text(encoding="utf-8") == default_console_config(), \
        "regenerate: python -m drivers.sim.world.console_config > resources/world.toml"


def test_more_households_than_one_port_holds_is_refused_with_the_fix() -> None:
    world = World()
    assert len(world_layout(world.participants, None, world.network.feeder_ends)) == 224  # all fit, just
    with pytest.raises(ValueError, match="ask for fewer with --households") as e:
        more = [replace(p, connection=len(world.participants) + p.connection) for p in world.participants[:20]]
        world_layout([*world.participants, *more], None)
    assert "unit ids 1–246" in str(e.value)  # 247 is the grid-supply meter (the transformer)
