"""Several points' history in one call gives each point exactly what it gets alone, and what numpy says.

The points differ in where their data lies, so one call mixes plans: "a" and "b" are rolled up for the
first hour, "b" has missing values, "d" has NaN values and bad-quality outliers, "c" was written after
the rollup (raw only) and "never-written" has no data at all. The ranges read raw samples only, rollup
rows only, or both.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sqlalchemy import delete

from console.store.database import make_engine, upgrade
from console.store.retention import rollup
from console.store.samples import SampleStore, to_row
from console.store.schema import samples
from core.history import Bucket
from core.points import Quality

pytestmark = [pytest.mark.store, pytest.mark.timeout(300)]

T0_US = 1_790_000_000_000_000  # on a 10 s boundary, not on a minute or hour boundary
HOUR = 3600
S = 1_000_000
KEYS = ["a", "b", "c", "d", "never-written"]


def fill(store: SampleStore, key: str, seconds: int, *, gap_every: int = 0, offset: float = 0.0) -> np.ndarray:
    """1 Hz samples of `key` for `seconds` s; every `gap_every`-th value is missing (NaN → None)."""
    v = 50 + offset + 0.1 * np.sin(np.arange(seconds) / 97)
    rows = []
    for s in range(seconds):
        missing = gap_every and s % gap_every == 0
        rows.append((key, T0_US + s * S, None if missing else float(v[s]), 0))
        if missing:
            v[s] = math.nan
    store.insert(rows)
    return v


def fill_nan_and_bad(store: SampleStore, key: str, seconds: int) -> np.ndarray:
    """1 Hz samples through `to_row` as the acquisition writes them: every 5th value is a float NaN, every
    11th an outlier of bad quality. Returns the values a bucket may use (NaN where none)."""
    v = 49.9 + 0.2 * np.cos(np.arange(seconds) / 41)
    rows = []
    for s in range(seconds):
        value, quality = float(v[s]), Quality.GOOD
        if s % 5 == 0:
            value = v[s] = math.nan
        elif s % 11 == 0:
            value, quality = 999.0, Quality.BAD
            v[s] = math.nan
        elif s % 13 == 0:
            quality = Quality.UNCERTAIN  # counts like good
        rows.append(to_row(key, value, quality, (T0_US + s * S) / S))
    store.insert(rows)
    return v


@pytest.fixture
def store(db_url: str) -> SampleStore:
    engine = make_engine(db_url)
    upgrade(engine)
    return SampleStore(engine)


@pytest.fixture
def history(store: SampleStore) -> dict[str, np.ndarray]:
    a = fill(store, "a", 2 * HOUR)
    b = fill(store, "b", 2 * HOUR, gap_every=7, offset=0.2)
    d = fill_nan_and_bad(store, "d", 2 * HOUR)
    rollup(store.engine, T0_US + HOUR * S)  # rollups cover the first hour only
    c = fill(store, "c", 600, offset=-0.3)  # added after the rollup: raw only
    return {"a": a, "b": b, "c": c, "d": d}


def expected(v: np.ndarray, t0_s: int, t1_s: int, count: int) -> list[tuple[int, float, float, float, float, int]]:
    """numpy's buckets of 1 Hz values `v` (index = seconds from T0) over [t0, t1) s; whole-second widths."""
    width = (t1_s - t0_s) // count
    assert width * count == t1_s - t0_s
    chunks = np.full(t1_s - t0_s, math.nan)
    part = v[t0_s:t1_s]
    chunks[:len(part)] = part
    chunks = chunks.reshape(count, width)
    finite = np.isfinite(chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN buckets: left out below
        vmin, vmax, vavg = np.nanmin(chunks, 1), np.nanmax(chunks, 1), np.nanmean(chunks, 1)
    last = width - 1 - np.argmax(finite[:, ::-1], axis=1)
    return [(T0_US + (t0_s + k * width) * S, float(vmin[k]), float(vmax[k]), float(vavg[k]),
             float(chunks[k, last[k]]), int(finite[k].sum())) for k in range(count) if finite[k].any()]


def values(buckets: list[Bucket]) -> list[tuple[float, float, float, float]]:
    return [(b.vmin, b.vmax, b.vavg, b.vlast) for b in buckets]


def good_count(v: np.ndarray, t0_s: float, t1_s: float) -> int:
    return int(np.isfinite(v[math.ceil(t0_s):math.ceil(t1_s)]).sum())


# (t0, t1) in seconds from T0, bucket count, whether every bucket must equal numpy's (rollup rows wholly
# inside buckets). Not exact: buckets of 1-minute or 1-hour rows, and a grid not on 10 s boundaries, where
# a rollup row counts in the bucket where it starts.
RANGES = {
    "raw only, 1 s buckets": (HOUR + 600, 2 * HOUR, 3000, True),
    "raw only, 50 s buckets after the rollups": (HOUR + 600, 2 * HOUR, 60, True),
    "rollup only, 10 s buckets": (0, HOUR, 360, True),
    "rollup only, 30 s buckets": (0, HOUR, 120, True),
    "mixed, 1 s buckets": (0, 2 * HOUR, 7200, True),
    "mixed, 30 s buckets": (0, 2 * HOUR, 240, True),
    "mixed, 72 s buckets of 1-minute rows": (0, 2 * HOUR, 100, False),
    "mixed, 1 h buckets of hour rows": (0, 2 * HOUR, 2, False),
    "mixed, t0 inside a 10 s row": (3.5, 2 * HOUR, 240, False),
}


@pytest.mark.parametrize("case", list(RANGES))
def test_many_points_match_each_point_alone_and_numpy(store: SampleStore, history: dict[str, np.ndarray],
                                                      case: str) -> None:
    t0_s, t1_s, count, exact = RANGES[case]
    t0, t1 = T0_US + round(t0_s * S), T0_US + t1_s * S
    many = store.buckets_many(KEYS, t0, t1, count)
    assert list(many) == KEYS
    assert many["never-written"] == []
    for key in KEYS:
        assert many[key] == store.buckets(key, t0, t1, count), key
    for key, v in history.items():
        got = many[key]
        assert sum(b.n for b in got) == good_count(v, t0_s, t1_s), key  # nothing lost, nothing twice
        assert [b.start_us for b in got] == sorted({b.start_us for b in got}), key
        assert all(t0 <= b.start_us < t1 for b in got), key
        assert {(type(b.start_us), type(b.vavg), type(b.n)) for b in got} <= {(int, float, int)}, key
        if exact:
            want = expected(v, int(t0_s), t1_s, count)
            assert [(b.start_us, b.n) for b in got] == [(w[0], w[5]) for w in want], key
            np.testing.assert_allclose(values(got), [w[1:5] for w in want], rtol=1e-12, err_msg=key)
        else:
            inside = v[math.ceil(t0_s):t1_s]
            assert min(b.vmin for b in got) == pytest.approx(np.nanmin(inside)), key
            assert max(b.vmax for b in got) == pytest.approx(np.nanmax(inside)), key
            assert got[-1].vlast == pytest.approx(inside[np.isfinite(inside)][-1]), key
    assert all(b.vmax < 999.0 for b in many["d"])  # bad-quality values are left out


def test_points_past_raw_retention_mixed_with_points_that_have_raw(store: SampleStore,
                                                                   history: dict[str, np.ndarray]) -> None:
    # The first half hour of "a" is past its raw retention: only its rollups are left.
    pid = store.point_id("a")
    with store.engine.begin() as conn:
        conn.execute(delete(samples).where(samples.c.point_id == pid, samples.c.ts_us < T0_US + 1800 * S))
    t1 = T0_US + 2 * HOUR * S
    for count in (7200, 720, 240):  # 1 s buckets (rollups fill in), 10 s and 30 s buckets
        many = store.buckets_many(KEYS, T0_US, t1, count)
        for key in KEYS:
            assert many[key] == store.buckets(key, T0_US, t1, count), (key, count)
        assert sum(b.n for b in many["a"]) == 2 * HOUR, count
        assert many["a"][0].start_us == T0_US
        if count == 240:
            want = expected(history["a"], 0, 2 * HOUR, count)
            np.testing.assert_allclose(values(many["a"]), [w[1:5] for w in want], rtol=1e-12)


def test_empty_requests(store: SampleStore) -> None:
    assert store.buckets_many(["x", "y"], T0_US, T0_US, 10) == {"x": [], "y": []}
    assert store.buckets_many(["x"], T0_US, T0_US + 10, 0) == {"x": []}
    assert store.buckets_many([], T0_US, T0_US + 10, 10) == {}
    assert store.buckets_many(["x", "x"], T0_US, T0_US + 10 * S, 10) == {"x": []}
