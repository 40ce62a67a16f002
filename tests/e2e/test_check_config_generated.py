"""Generated mistakes: 300 mutations of a valid config and its Modbus profile, each
run through the real CLI entry (`energynet check-config`), each refused with exit 2
and a line naming the file, the key and the problem. Never a traceback: any
exception escaping `main` fails the test.

Every mutation is invalid by construction (a value outside the documented range or
set, a wrong type, a missing or unknown key, broken TOML, a missing file, two
points on one register), so the test does not ask the code what is valid.
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.cli import main

pytestmark = pytest.mark.e2e

PROFILE: dict[str, Any] = {
    "profile": {"name": "Acme EM24", "kind": "meter", "word_order": "little", "byte_order": "big",
                "table": "holding", "max_gap": 8},
    "poll_groups": {"power": 0.5, "energy": 60.0},
    "points": [
        {"id": "voltage", "name": "Voltage L1-N", "address": 0, "type": "int32", "unit": "V", "scale": 0.1,
         "valid": [0, 500]},
        {"id": "power", "address": 10, "type": "int16", "unit": "W", "role": "power", "min": -25000, "max": 25000},
        {"id": "energy", "address": 20, "type": "uint32", "unit": "Wh", "poll": "energy", "role": "energy_import"},
        {"id": "limit", "address": 30, "type": "uint16", "unit": "%", "access": "rw", "min": 0, "max": 100},
        {"id": "serial", "address": 100, "type": "string", "words": 4, "role": "serial", "poll": "energy"},
    ],
}
WORDS = {"voltage": 2, "power": 1, "energy": 2, "limit": 1, "serial": 4}  # registers each base point occupies

CONFIG: dict[str, Any] = {
    "console": {"title": "Site", "refresh_hz": 10.0, "trend_window_s": 60},
    "bands": {"frequency": {"nominal_hz": 50.0}, "voltage": {"normal_fraction": 0.1}},
    "historian": {"enabled": True, "batch_rows": 1000, "flush_s": 1.0},
    "chain": {"enabled": False, "rpc": "http://127.0.0.1:8545", "confirmations": 1},
    "sources": [{
        "name": "plant", "endpoint": "opc.tcp://10.0.0.7:4840/plant", "security_mode": "None",
        "publishing_interval_ms": 100.0, "request_timeout_s": 2.0,
        "points": [
            {"id": "plant.f", "name": "Frequency", "node": "ns=2;s=F", "unit": "Hz", "kind": "frequency"},
            {"id": "plant.u1", "name": "Bay 1 U_L1", "node": "ns=2;s=U1", "unit": "V", "kind": "voltage",
             "nominal": 230.0, "deadband": 0.5},
            {"id": "plant.t", "browse_path": ["2:Plant", "2:Temperature"], "unit": "°C"},
        ],
    }],
    "modbus": [
        {"name": "em24", "host": "10.0.0.20", "port": 502, "device_id": 1, "profile": "acme_em24.toml",
         "timeout_s": 1.0, "poll": {"power": 1.0}, "asset": "meter"},
        {"name": "pv1", "host": "10.0.0.21", "device_id": 101, "profile": "sunspec", "rated_power_w": 10000.0},
    ],
}

# --- a TOML writer for the few shapes a config has (the standard library only reads TOML)


def toml(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    _table(doc, (), lines, array=False)
    return "\n".join(lines) + "\n"


def _is_array_of_tables(v: object) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(e, dict) for e in v)


def _table(d: dict[str, Any], prefix: tuple[str, ...], lines: list[str], array: bool) -> None:
    if prefix:
        name = ".".join(_key(k) for k in prefix)
        lines.append(f"[[{name}]]" if array else f"[{name}]")
    for k, v in d.items():
        if not isinstance(v, dict) and not _is_array_of_tables(v):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in d.items():
        if isinstance(v, dict):
            _table(v, (*prefix, k), lines, array=False)
        elif _is_array_of_tables(v):
            for entry in v:
                _table(entry, (*prefix, k), lines, array=True)


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _string(k)


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(e) for e in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(e)}" for k, e in v.items()) + "}"
    raise TypeError(v)


# --- what a mutation produces and what the check must then say


@dataclass(frozen=True)
class Case:
    config: dict[str, Any] | str | bytes
    profile: dict[str, Any] | str | bytes
    in_profile: bool  # the expected problem is in the profile file (else in the config)
    key: str  # the key path the problem line must name ("" for a TOML syntax error)
    fragment: str = ""  # words the problem must contain, where the rule fixes them
    also: str = ""  # a second label the same line must name (overlaps: both points)


def _config_label(entry: object) -> str:
    """How the docs say a config entry is labelled: by its id, else by its name."""
    if not isinstance(entry, dict):
        return ""
    for field in ("id", "name"):
        if isinstance(entry.get(field), str) and entry[field]:
            return f" {entry[field]!r}"
    return ""


def config_key(doc: dict[str, Any], path: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    node: Any = doc
    for step in path:
        if isinstance(step, int):
            entry = node[step] if isinstance(node, list) and step < len(node) else None
            parts[-1] += f"[{step}{_config_label(entry)}]"
            node = entry
        else:
            parts.append(step)
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts)


def point_label(points: list[Any], i: int) -> str:
    pid = points[i].get("id") if isinstance(points[i], dict) else None
    return f"points[{i}{' ' + repr(pid) if pid else ''}]"


def _set(doc: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    node: Any = doc
    for step in path[:-1]:
        node = node[step]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DELETE = object()

# --- invalid values by construction

junk_text = st.from_regex(r"x[a-z_ ]{0,10}", fullmatch=True)  # never a number, unit, type, role, or order
huge = st.integers(min_value=10**12, max_value=2**63 - 1)
lists = st.lists(st.integers(-5, 5), max_size=3)
tables = st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.integers(0, 9), max_size=2)
not_text = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False), st.booleans(), lists, tables)
not_number = st.one_of(junk_text, lists, tables)
fractional = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
not_bool = st.one_of(lists, tables, st.floats(min_value=2.0, max_value=1e6))


def ints_outside(lo: int | None, hi: int | None) -> st.SearchStrategy[object]:
    options: list[st.SearchStrategy[object]] = [not_number, fractional]
    if lo is not None:
        options += [st.integers(lo - 10**6, lo - 1), st.just(lo - 1), st.just(-(2**63))]
    if hi is not None:
        options += [st.integers(hi + 1, hi + 10**6), st.just(hi + 1), huge]
    return st.one_of(options)


def floats_outside(lo: float | None, lo_open: bool, hi: float | None, hi_open: bool) -> st.SearchStrategy[object]:
    options: list[st.SearchStrategy[object]] = [not_number, st.just(math.nan)]
    if lo is not None:
        options += [st.floats(max_value=lo).filter(lambda f: f <= lo if lo_open else f < lo), st.just(-math.inf),
                    st.just(-1e300)]
    if hi is not None:
        options += [st.floats(min_value=hi).filter(lambda f: f >= hi if hi_open else f > hi), st.just(math.inf),
                    st.just(1e300)]
    return st.one_of(options)


bad_choice = st.one_of(junk_text, st.just(""), not_text)  # never one of a key's documented words
empty_or_not_text = st.one_of(st.just(""), not_text)

# Config keys and values outside what the README documents for them.
CONFIG_VALUES: list[tuple[tuple[str | int, ...], st.SearchStrategy[object]]] = [
    (("console", "title"), not_text),
    (("console", "refresh_hz"), floats_outside(0, True, 20, False)),
    (("console", "trend_window_s"), st.one_of(st.sampled_from([0, 30, 61, 3599, 7200]), junk_text)),
    (("historian", "enabled"), not_bool),
    (("historian", "batch_rows"), ints_outside(100, 100_000)),
    (("historian", "flush_s"), floats_outside(0, True, 60, False)),
    (("historian", "url"), st.one_of(junk_text, st.just("sqlite://relative.db"), st.just("mysql://h/db"), not_text)),
    (("chain", "enabled"), not_bool),
    (("chain", "rpc"), st.one_of(junk_text, st.just("localhost:8545"), st.just("ws://127.0.0.1:8545"), not_text)),
    (("chain", "confirmations"), ints_outside(0, 64)),
    (("bands", "voltage", "normal_fraction"), floats_outside(0, True, 1, True)),
    (("sources", 0, "name"), empty_or_not_text),
    (("sources", 0, "endpoint"), st.one_of(
        junk_text, st.just("opc.tcp//10.0.0.7:4840"), st.just("opc.tcp://"), st.just("http://10.0.0.7:4840"),
        st.just("opc.tcp://10.0.0.7:99999/x"), st.just("opc.tcp://10.0.0.7 :4840"), not_text)),
    (("sources", 0, "security_mode"), bad_choice),
    (("sources", 0, "publishing_interval_ms"), floats_outside(0, True, 60_000, False)),
    (("sources", 0, "request_timeout_s"), floats_outside(0, True, 60, False)),
    (("sources", 0, "points"), st.one_of(st.just([]), junk_text, st.integers())),
    (("sources", 0, "points", 0, "id"), st.one_of(st.just(""), st.just("plant f"), st.just("plant/f"), not_text)),
    (("sources", 0, "points", 1, "kind"), bad_choice),
    (("sources", 0, "points", 1, "deadband"), floats_outside(0, False, None, False)),
    (("sources", 0, "points", 0, "node"), not_text),
    (("sources", 0, "points", 2, "browse_path"), st.one_of(junk_text, st.integers(), tables)),
    (("sources", 0, "points", 1), st.one_of(junk_text, st.integers(), lists)),
    (("modbus", 0, "name"), st.one_of(st.just(""), st.just("em 24"), st.just("em/24"), not_text)),
    (("modbus", 0, "host"), empty_or_not_text),
    (("modbus", 0, "port"), ints_outside(1, 65535)),
    (("modbus", 0, "device_id"), ints_outside(0, 247)),
    (("modbus", 0, "timeout_s"), floats_outside(0, True, 30, False)),
    (("modbus", 0, "asset"), bad_choice),
    (("modbus", 0, "poll", "power"), floats_outside(0, True, None, False)),
    (("modbus", 0, "profile"), empty_or_not_text),
    (("modbus", 1, "rated_power_w"), floats_outside(0, True, None, False)),
    (("modbus", 1, "consumer_only"), not_bool),
]
REQUIRED = [("sources", 0, "name"), ("sources", 0, "endpoint"), ("sources", 0, "points"),
            ("sources", 0, "points", 1, "id"), ("modbus", 0, "name"), ("modbus", 0, "host"), ("modbus", 0, "profile")]
TABLES = [(), ("console",), ("historian",), ("chain",), ("bands", "frequency"), ("sources", 0),
          ("sources", 0, "points", 2), ("modbus", 1)]

POINT_VALUES: dict[str, st.SearchStrategy[object]] = {
    "id": st.one_of(st.just(""), not_text),
    "name": not_text,
    "type": st.one_of(junk_text, st.sampled_from(["float33", "Int16", "word", ""]), not_text),
    "unit": st.one_of(junk_text, st.sampled_from(["volts", "KW", "mw", "kwh", "Kelvin"]), not_text),
    "table": st.one_of(junk_text, st.sampled_from(["coils", "discrete", "Holding", ""]), not_text),
    "address": st.one_of(st.integers(max_value=-1), st.integers(min_value=65536), huge, fractional, not_number),
    "scale": st.one_of(st.just(0), st.just(0.0), st.just(math.inf), st.just(math.nan), not_number),
    "poll": st.one_of(st.sampled_from(["slow", "fast", ""]), not_text),
    "access": st.one_of(st.sampled_from(["w", "ro", "RW", ""]), not_text),
    "min": st.one_of(not_number, st.just(math.nan)),
    "role": st.one_of(junk_text, st.sampled_from(["active_power", "Power", "energy", ""]), not_text),
    "valid": st.one_of(st.just([500, 0]), st.just([1]), st.just([0, 1, 2]), st.just([5, 5]), junk_text,
                       st.lists(junk_text, min_size=2, max_size=2)),
    "sf": st.one_of(st.just("voltage_sf"), not_text),
}
HEAD_VALUES: dict[str, st.SearchStrategy[object]] = {
    "name": empty_or_not_text,
    "kind": not_text,
    "word_order": st.one_of(junk_text, st.sampled_from(["middle", "Big", "swapped"]), not_text),
    "byte_order": st.one_of(junk_text, st.sampled_from(["middle", "LITTLE"]), not_text),
    "table": st.one_of(junk_text, st.sampled_from(["coils", "Input"]), not_text),
    "max_gap": st.one_of(st.integers(max_value=-1), st.integers(min_value=125), huge, fractional, not_number),
}
# Lines that break TOML wherever they are inserted (a profile already has a [profile] table).
TOML_BREAKERS = ["[[points]", "id = ", "= 5", 'x = "unterminated', "a.b = 1\na = 2", "[x\ny = 1", "k = [1,"]
PROFILE_BREAKERS = [*TOML_BREAKERS, "[profile]", "[poll_groups]"]


@st.composite
def config_cases(draw: st.DrawFn) -> Case:
    doc = copy.deepcopy(CONFIG)
    kind = draw(st.sampled_from(["value", "value", "value", "missing", "unknown", "no_profile", "toml", "bytes"]))
    if kind == "value":
        path, values = draw(st.sampled_from(CONFIG_VALUES))
        _set(doc, path, draw(values))
        return Case(doc, PROFILE, False, config_key(doc, path))
    if kind == "missing":
        path = draw(st.sampled_from(REQUIRED))
        _set(doc, path, _DELETE)
        return Case(doc, PROFILE, False, config_key(doc, path), "required key is missing")
    if kind == "unknown":
        where = draw(st.sampled_from(TABLES))
        key = draw(st.from_regex(r"x_[a-z]{1,8}", fullmatch=True))
        _set(doc, (*where, key), draw(st.one_of(st.integers(), junk_text)))
        return Case(doc, PROFILE, False, config_key(doc, (*where, key)), "unknown key")
    if kind == "no_profile":
        name = draw(st.from_regex(r"x_[a-z0-9_]{1,10}\.toml", fullmatch=True))
        doc["modbus"][0]["profile"] = name
        return Case(doc, PROFILE, False, "modbus[0 'em24'].profile", "no profile file")
    if kind == "bytes":
        return Case(not_utf8(draw, toml(doc)), PROFILE, False, "", "not a text file (UTF-8)")
    text = toml(doc).splitlines()
    at = draw(st.integers(0, len(text)))
    text.insert(at, draw(st.sampled_from(TOML_BREAKERS)))
    return Case("\n".join(text) + "\n", PROFILE, False, "", "not valid TOML")


@st.composite
def profile_cases(draw: st.DrawFn) -> Case:
    doc = copy.deepcopy(PROFILE)
    points = doc["points"]
    kind = draw(st.sampled_from(["point", "point", "point", "head", "overlap", "range", "role_unit", "words",
                                 "unknown", "poll_group", "structure", "toml", "bytes"]))
    i = draw(st.integers(0, len(points) - 1))
    if kind == "point":
        key = draw(st.sampled_from(sorted(POINT_VALUES)))
        points[i][key] = draw(POINT_VALUES[key])
        if key == "sf" and points[i]["sf"] == "voltage_sf":
            return Case(CONFIG, doc, True, f"{point_label(points, i)}.sf", "no point 'voltage_sf'")
        return Case(CONFIG, doc, True, f"{point_label(points, i)}.{key}")
    if kind == "head":
        key = draw(st.sampled_from(sorted(HEAD_VALUES)))
        doc["profile"][key] = draw(HEAD_VALUES[key])
        return Case(CONFIG, doc, True, f"profile.{key}")
    if kind == "overlap":
        j = draw(st.integers(0, len(points) - 1).filter(lambda j: j != i))
        a, b = points[i], points[j]
        b["address"] = a["address"] + draw(st.integers(0, WORDS[a["id"]] - 1))
        return Case(CONFIG, doc, True, "points[", "cannot share a register",
                    also=f"{point_label(points, i)}|{point_label(points, j)}")
    if kind == "range":
        i = draw(st.sampled_from([0, 2, 4]))  # the multi-register points
        points[i]["address"] = draw(st.integers(65536 - WORDS[points[i]["id"]] + 1, 65535))
        return Case(CONFIG, doc, True, f"{point_label(points, i)}.address", "past the last register 65535")
    if kind == "role_unit":
        i, wrong = draw(st.sampled_from([(1, ["Wh", "kWh", "V", "var", "%", "Hz"]), (2, ["W", "kW", "varh", "A"])]))
        points[i]["unit"] = draw(st.sampled_from(wrong))
        return Case(CONFIG, doc, True, f"{point_label(points, i)}.unit", f"role {points[i]['role']!r} takes")
    if kind == "words":
        if points[i]["type"] == "string":
            points[i]["words"] = draw(st.one_of(st.integers(max_value=0), st.integers(min_value=126), not_number))
        else:
            points[i]["words"] = draw(st.integers(-3, 130).filter(lambda w: w != WORDS[points[i]["id"]]))
        return Case(CONFIG, doc, True, f"{point_label(points, i)}.words")
    if kind == "unknown":
        key = draw(st.from_regex(r"x_[a-z]{1,8}", fullmatch=True))
        where = draw(st.sampled_from(["top", "head", "point"]))
        if where == "top":
            doc[key] = 1
            return Case(CONFIG, doc, True, key, "unknown section")
        target = doc["profile"] if where == "head" else points[i]
        target[key] = draw(st.one_of(st.integers(), junk_text))
        return Case(CONFIG, doc, True, f"profile.{key}" if where == "head" else f"{point_label(points, i)}.{key}",
                    "unknown key")
    if kind == "poll_group":
        group = draw(st.sampled_from(["power", "energy"]))
        doc["poll_groups"][group] = draw(floats_outside(0, True, None, False))
        return Case(CONFIG, doc, True, f"poll_groups.{group}", "positive number of seconds")
    if kind == "structure":
        change = draw(st.sampled_from(["no_head", "no_points", "points_scalar", "point_scalar", "groups_scalar"]))
        if change == "no_head":
            del doc["profile"]
            return Case(CONFIG, doc, True, "profile", "section is missing")
        if change == "no_points":
            doc["points"] = []
            return Case(CONFIG, doc, True, "points", "at least one")
        if change == "points_scalar":
            doc["points"] = draw(st.one_of(junk_text, st.integers()))
            return Case(CONFIG, doc, True, "points", "at least one")
        if change == "point_scalar":
            points[i] = draw(st.one_of(junk_text, st.integers(), lists))
            return Case(CONFIG, doc, True, f"points[{i}]", "must be a table of keys")
        doc["poll_groups"] = draw(st.one_of(junk_text, st.integers(), st.just({})))
        return Case(CONFIG, doc, True, "poll_groups", "must map group names")
    if kind == "bytes":
        return Case(CONFIG, not_utf8(draw, toml(doc)), True, "", "not a text file (UTF-8)")
    text = toml(doc).splitlines()
    text.insert(draw(st.integers(0, len(text))), draw(st.sampled_from(PROFILE_BREAKERS)))
    return Case(CONFIG, "\n".join(text) + "\n", True, "", "not valid TOML")


def not_utf8(draw: st.DrawFn, text: str) -> bytes:
    """The file with a byte no UTF-8 text has (a Latin-1 editor's ü, a stray 0xFF) somewhere in it."""
    data = text.encode("utf-8")
    at = draw(st.integers(0, len(data)))
    while 0 < at < len(data) and data[at] & 0xC0 == 0x80:  # not inside a multi-byte character
        at -= 1
    return data[:at] + draw(st.sampled_from([b"\xff", b"\xfc", b"\xc3", b"\x80"])) + data[at:]


def _write(path: Path, content: dict[str, Any] | str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else toml(content), encoding="utf-8")


@contextmanager
def site(case: Case) -> Iterator[tuple[Path, Path]]:
    directory = Path(tempfile.mkdtemp(prefix="checkcfg-")).resolve()
    try:
        config, profile = directory / "site.toml", directory / "acme_em24.toml"
        _write(config, case.config)
        _write(profile, case.profile)
        yield config, profile
    finally:
        shutil.rmtree(directory)


def test_the_unmutated_site_passes(capsys: pytest.CaptureFixture[str]) -> None:
    with site(Case(CONFIG, PROFILE, False, "")) as (config, _):
        assert main(["check-config", str(config)]) == 0, capsys.readouterr().err
    assert ": OK — 1 OPC-UA source (3 points), 2 Modbus devices (1 from 1 profile, 5 points; 1 SunSpec" in (
        capsys.readouterr().out)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.one_of(config_cases(), profile_cases()))
def test_every_generated_mistake_is_named(capsys: pytest.CaptureFixture[str], case: Case) -> None:
    capsys.readouterr()
    with site(case) as (config, profile):
        rc = main(["check-config", str(config)])
        err = capsys.readouterr().err
        file = profile if case.in_profile else config
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    prefix = f"{file}: {case.key}" if case.key else f"{file}: "
    named = [line for line in lines if line.startswith(prefix)]
    assert named, f"no line starts with {prefix!r}:\n{err}"
    if case.also:
        first, second = case.also.split("|")
        named = [line for line in named if first in line and second in line]
        assert named, f"no line names both {first} and {second}:\n{err}"
    problem = [line[len(prefix):].removeprefix(": ").strip() for line in named]
    assert any(len(p) >= 10 and case.fragment in p for p in problem), err
    if case.in_profile:  # and the config says which device the broken profile stops
        assert any(line.startswith(f"{config}: modbus[0 'em24'].profile: {profile} cannot be used")
                   for line in lines), err
