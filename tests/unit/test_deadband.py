"""Historian deadband: changes smaller than the band are not stored, but
quality changes, gaps and a heartbeat always are."""

from __future__ import annotations

import math

import pytest

from core.history import DeadbandFilter
from core.points import Quality, Sample

pytestmark = pytest.mark.unit


def s(value: float, ts: float, q: Quality = Quality.GOOD, point: str = "v") -> Sample:
    return Sample(point, value, "V", q, ts, ts)


def test_deadband_keeps_moves_quality_changes_and_heartbeats() -> None:
    f = DeadbandFilter({"v": 0.5}, heartbeat_s=60)
    batch = [s(230.0, 0), s(230.2, 1), s(230.6, 2), s(230.3, 3), s(math.nan, 4, Quality.STALE),
             s(230.3, 5), s(230.4, 70), s(1.0, 71, point="other")]
    kept = list(f(batch))
    assert [(k.point, k.source_ts) for k in kept] == [
        ("v", 0), ("v", 2), ("v", 4), ("v", 5), ("v", 70), ("other", 71)]
    assert f.dropped == 2


def test_no_deadbands_passes_everything() -> None:
    batch = [s(1, 0), s(1, 1)]
    assert list(DeadbandFilter({})(batch)) == batch
