"""The historian stores SI values, so a point's row names the SI unit, not the display unit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from console.config import parse
from console.store.database import make_engine, upgrade
from console.store.samples import SampleStore
from console.store.schema import points

pytestmark = [pytest.mark.store, pytest.mark.timeout(120)]

SITE = """
[[sources]]
name = "s"
endpoint = "opc.tcp://127.0.0.1:4840/x"
  [[sources.points]]
  id = "p"
  node = "ns=2;s=P"
  unit = "MW"
  kind = "demand"
  [[sources.points]]
  id = "u"
  node = "ns=2;s=U"
  unit = "kV"
  kind = "voltage"
  nominal = 20
  [[sources.points]]
  id = "f"
  node = "ns=2;s=F"
  unit = "mHz"
  kind = "frequency"
"""


def test_a_point_configured_in_mw_is_stored_in_w(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    SampleStore(engine).register(parse(SITE, Path("site.toml")).points)
    with engine.connect() as conn:
        units = dict(conn.execute(select(points.c.key, points.c.unit)).all())
    engine.dispose()
    assert units == {"p": "W", "u": "V", "f": "Hz"}
