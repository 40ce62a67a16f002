"""Sample repository: idempotent bulk inserts and pixel-sized bucket queries."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection, Engine, Table, func, insert, null, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from console.store.bucket_queries import prepare, raw_buckets, rollup_buckets
from console.store.retention import TIERS
from console.store.schema import points, samples, samples_10s
from core.history import Bucket
from core.points import PointDef, Quality

# Row as the writer and the spool carry it: point key (not id, so the spool is
# readable without the database), time in µs, value (None = NaN), quality code.
Row = tuple[str, int, float | None, int]

QUALITY_CODES = {q: i for i, q in enumerate(Quality)}
QUALITY_OF_CODE = dict(enumerate(Quality))


def to_row(point: str, value: float, quality: Quality, ts: float) -> Row:
    return (point, round(ts * 1_000_000), value if math.isfinite(value) else None, QUALITY_CODES[quality])


class SampleStore:
    """Reads and writes samples of one database. Thread-safe through the engine pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._ids: dict[str, int] = {}
        # register() (the acquisition's start) and point_id() (the writer thread, for a sample that arrives
        # before its definition) both create point rows: without one lock, both read "absent" and the second
        # insert fails on points.key, which spooled a whole batch at every demo start.
        self._creating = threading.Lock()

    # ---- points -----------------------------------------------------------------

    def register(self, defs: Iterable[PointDef]) -> None:
        """Make sure every point has a row with its name/unit/kind as defined now: a row stored
        before without them (a sample that arrived first) or with an old unit is brought up to date."""
        with self._creating, self.engine.begin() as conn:
            stored = {k: (i, (n, u, kd)) for k, i, n, u, kd in conn.execute(
                select(points.c.key, points.c.id, points.c.name, points.c.unit, points.c.kind))}
            for d in defs:
                described = (d.name, d.si_unit, d.kind.value)  # values are stored in SI
                row = stored.get(d.id)
                if row is None:
                    pid = conn.execute(
                        insert(points).values(key=d.id, name=d.name, unit=d.si_unit, kind=d.kind.value)
                        .returning(points.c.id)
                    ).scalar_one()
                    stored[d.id] = (pid, described)
                elif row[1] != described:
                    conn.execute(update(points).where(points.c.id == row[0])
                                 .values(name=d.name, unit=d.si_unit, kind=d.kind.value))
                    stored[d.id] = (row[0], described)
        self._ids.update({k: i for k, (i, _) in stored.items()})

    def point_id(self, key: str) -> int:
        """Id of a point key, creating a bare row for a key not registered yet."""
        pid = self._ids.get(key)
        if pid is not None:
            return pid
        with self._creating:
            try:
                pid = self._select_or_create(key)
            except IntegrityError:  # another process created it between our select and insert: it exists now
                pid = self._select_or_create(key)
            self._ids[key] = pid
        return pid

    def _select_or_create(self, key: str) -> int:
        with self.engine.begin() as conn:
            pid = conn.execute(select(points.c.id).where(points.c.key == key)).scalar()
            if pid is None:
                pid = conn.execute(insert(points).values(key=key, name=key, unit="", kind="other")
                                   .returning(points.c.id)).scalar_one()
        return int(pid)

    # ---- writes -------------------------------------------------------------------

    def insert(self, rows: Sequence[Row]) -> int:
        """Insert rows; rows already stored (same point and time) are skipped.
        Returns how many rows were handed over."""
        if not rows:
            return 0
        ids = [(self.point_id(key), ts, value, q) for key, ts, value, q in rows]
        if self.dialect == "postgresql":
            self._copy_postgres(ids)
        else:
            stmt = sqlite_insert(samples).on_conflict_do_nothing()
            with self.engine.begin() as conn:
                conn.execute(stmt, [{"point_id": p, "ts_us": t, "value": v, "quality": q} for p, t, v, q in ids])
        return len(rows)

    def _copy_postgres(self, rows: list[tuple[int, int, float | None, int]]) -> None:
        # COPY is ~5x faster than executemany; it cannot skip duplicates, so it
        # fills a temporary table and one INSERT ... ON CONFLICT moves the rows.
        with self.engine.begin() as conn:
            conn.execute(text(
                "CREATE TEMP TABLE IF NOT EXISTS samples_in "
                "(point_id INTEGER, ts_us BIGINT, value DOUBLE PRECISION, quality SMALLINT) ON COMMIT DELETE ROWS"
            ))
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy("COPY samples_in (point_id, ts_us, value, quality) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            conn.execute(text(
                "INSERT INTO samples (point_id, ts_us, value, quality) "
                "SELECT point_id, ts_us, value, quality FROM samples_in ON CONFLICT DO NOTHING"
            ))

    # ---- reads ----------------------------------------------------------------------

    def count(self, key: str | None = None) -> int:
        stmt = select(func.count()).select_from(samples)
        if key is not None:
            stmt = stmt.where(samples.c.point_id == self.point_id(key))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def latest(self, key: str) -> tuple[int, float | None, Quality] | None:
        """Newest stored (ts_us, value, quality) of a point."""
        pid = self.point_id(key)
        stmt = (select(samples.c.ts_us, samples.c.value, samples.c.quality)
                .where(samples.c.point_id == pid).order_by(samples.c.ts_us.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else (row[0], row[1], QUALITY_OF_CODE[row[2]])

    def buckets(self, key: str, t0_us: int, t1_us: int, count: int) -> list[Bucket]:
        """min/max/avg/last of good values in ``count`` equal buckets over [t0, t1).

        Size ``count`` to the plot's pixel columns: the result is at most one
        row per column, drawn as a min–max envelope. Buckets of 10 s or more
        are read from the finest rollup (10 s, 1 min, 1 h) no wider than a
        bucket, as far as it is complete, and from raw samples after that; a
        rollup row counts in the bucket where it starts. Where raw samples are
        gone (past their retention) the rollups fill in, so history reaches as
        far back as the rollups are kept.
        """
        return self.buckets_many([key], t0_us, t1_us, count)[key]

    def buckets_many(self, keys: Sequence[str], t0_us: int, t1_us: int, count: int) -> dict[str, list[Bucket]]:
        """:meth:`buckets` of several points at once: one statement to see where each point's data lies,
        then one statement per source table for all of them."""
        if count <= 0 or t1_us <= t0_us:
            return {k: [] for k in keys}
        width = max(1, -(-(t1_us - t0_us) // count))  # ceil
        pids = {k: self.point_id(k) for k in keys}
        if not pids:
            return {}
        good = (QUALITY_CODES[Quality.GOOD], QUALITY_CODES[Quality.UNCERTAIN])
        groups: dict[tuple[Table | None, int, int], list[int]] = defaultdict(list)
        found: dict[int, list[Bucket]] = {}
        with self.engine.begin() as conn:
            for pid, plan in self._plans(conn, sorted(set(pids.values())), t0_us, t1_us, width).items():
                groups[plan].append(pid)
            prepare(conn, self.dialect)
            for (table, start, split), ids in groups.items():
                # Raw samples before the first whole rollup row, the rollup rows, raw samples after them.
                head = raw_buckets(conn, ids, t0_us, t0_us, start, width, good) if start > t0_us else {}
                older = (rollup_buckets(conn, self.dialect, table, ids, start, split, width, t0_us)
                         if table is not None else {})
                newer = raw_buckets(conn, ids, t0_us, split, t1_us, width, good)
                for pid in ids:
                    found[pid] = _merge(_merge(head.get(pid, []), older.get(pid, [])), newer.get(pid, []))
        return {k: found[pid] for k, pid in pids.items()}

    def _plans(self, conn: Connection, pids: list[int], t0_us: int, t1_us: int,
               width: int) -> dict[int, tuple[Table | None, int, int]]:
        """Where each point's buckets come from: (rollup table or None, start of its first whole row at or
        after t0, time from which raw samples are read). Rollup rows are aligned to the epoch, so the one
        holding t0 also holds samples before it: that part is read raw. One statement for all points: per
        point, the newest row of the rollup tier and the oldest raw sample (each one index lookup)."""
        # Coarse buckets come from the finest rollup no wider than a bucket, up to where it is
        # complete; raw samples fill in the newest part.
        table, tier = next(((t, w) for t, w in reversed(TIERS) if w <= width), (None, 0))
        oldest = select(func.min(samples.c.ts_us)).where(samples.c.point_id == points.c.id).scalar_subquery()
        done = (select(func.max(table.c.bucket_us)).where(table.c.point_id == points.c.id).scalar_subquery()
                if table is not None else null())
        plans: dict[int, tuple[Table | None, int, int]] = {}
        for pid, oldest_raw, last_row in conn.execute(select(points.c.id, oldest, done).where(points.c.id.in_(pids))):
            if table is not None and last_row is not None and last_row + tier > t0_us:
                split = min(last_row + tier, t1_us)
                plans[pid] = (table, min(-(-t0_us // tier) * tier, split), split)
            elif oldest_raw is None or oldest_raw > t0_us:
                # Raw samples are gone (retention): the finest rollup fills in.
                plans[pid] = (samples_10s, t0_us, t1_us if oldest_raw is None else min(max(oldest_raw, t0_us), t1_us))
            else:
                plans[pid] = (None, t0_us, t0_us)
        return plans

    def export(
        self, key: str, t0_us: int, t1_us: int, chunk: int = 10_000
    ) -> Iterator[tuple[int, float | None, Quality]]:
        """Every raw sample of a point in [t0, t1), oldest first, streamed in chunks."""
        pid = self.point_id(key)
        cursor = t0_us
        while True:
            stmt = (select(samples.c.ts_us, samples.c.value, samples.c.quality)
                    .where(samples.c.point_id == pid, samples.c.ts_us >= cursor, samples.c.ts_us < t1_us)
                    .order_by(samples.c.ts_us).limit(chunk))
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
            for ts, value, q in rows:
                yield ts, value, QUALITY_OF_CODE[q]
            if len(rows) < chunk:
                return
            cursor = rows[-1][0] + 1


def _merge(older: list[Bucket], newer: list[Bucket]) -> list[Bucket]:
    """Join rollup and raw buckets on the same grid; a bucket both cover is combined."""
    if older and newer and older[-1].start_us == newer[0].start_us:
        a, b = older[-1], newer[0]
        n = a.n + b.n
        both = Bucket(a.start_us, min(a.vmin, b.vmin), max(a.vmax, b.vmax), (a.vavg * a.n + b.vavg * b.n) / n,
                      b.vlast, n)
        return [*older[:-1], both, *newer[1:]]
    return older + newer
