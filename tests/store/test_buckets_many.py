"""Several points' history in one call gives each point exactly what it gets alone, and what numpy says."""

from __future__ import annotations

import math

import numpy as np
import pytest

from console.store.database import make_engine, upgrade
from console.store.retention import rollup
from console.store.samples import SampleStore

pytestmark = [pytest.mark.store, pytest.mark.timeout(300)]

T0_US = 1_790_000_000_000_000
HOUR = 3600


def fill(store: SampleStore, key: str, seconds: int, *, gap_every: int = 0, offset: float = 0.0) -> np.ndarray:
    """1 Hz samples of `key` for `seconds` s; every `gap_every`-th value is missing (NaN → None)."""
    v = 50 + offset + 0.1 * np.sin(np.arange(seconds) / 97)
    rows = []
    for s in range(seconds):
        missing = gap_every and s % gap_every == 0
        rows.append((key, T0_US + s * 1_000_000, None if missing else float(v[s]), 0))
        if missing:
            v[s] = math.nan
    store.insert(rows)
    return v


@pytest.fixture
def store(db_url: str) -> SampleStore:
    engine = make_engine(db_url)
    upgrade(engine)
    s = SampleStore(engine)
    return s


def test_many_points_match_each_point_alone_and_numpy(store: SampleStore) -> None:
    a = fill(store, "a", 2 * HOUR)
    b = fill(store, "b", 2 * HOUR, gap_every=7, offset=0.2)
    rollup(store.engine, T0_US + HOUR * 1_000_000)  # rollups cover the first hour only: mixed sources
    c = fill(store, "c", 600, offset=-0.3)  # added after the rollup: raw only
    keys = ["a", "b", "c", "never-written"]
    t1 = T0_US + 2 * HOUR * 1_000_000
    for count in (7200, 240, 100):  # 1 s (raw), 30 s and 72 s (rollup + raw tail) buckets
        many = store.buckets_many(keys, T0_US, t1, count)
        assert set(many) == set(keys)
        assert many["never-written"] == []
        for key in keys:
            assert many[key] == store.buckets(key, T0_US, t1, count), (key, count)
        width_s = 2 * HOUR // count
        for key, v in (("a", a), ("b", b), ("c", c)):
            got = many[key]
            assert sum(x.n for x in got) == int(np.count_nonzero(~np.isnan(v)))
            if count == 100:
                continue  # 72 s buckets of 1-minute rows: a row counts where it starts, so edges differ from numpy
            for bucket in got[:: max(1, len(got) // 10)]:
                i = (bucket.start_us - T0_US) // 1_000_000
                chunk = v[i:i + width_s]
                assert bucket.vmin == pytest.approx(np.nanmin(chunk))
                assert bucket.vmax == pytest.approx(np.nanmax(chunk))
                assert bucket.vavg == pytest.approx(np.nanmean(chunk))
                assert bucket.vlast == pytest.approx(chunk[~np.isnan(chunk)][-1])


def test_empty_requests(store: SampleStore) -> None:
    assert store.buckets_many(["x", "y"], T0_US, T0_US, 10) == {"x": [], "y": []}
    assert store.buckets_many(["x"], T0_US, T0_US + 10, 0) == {"x": []}
    assert store.buckets_many([], T0_US, T0_US + 10, 10) == {}
