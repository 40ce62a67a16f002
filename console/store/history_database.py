"""The SQL historian database as the :class:`console.services.history_export.HistoryDatabase` port."""

from __future__ import annotations

from collections.abc import Iterator

from console.store.database import current_revision, head_revision, make_engine, upgrade
from console.store.samples import SampleStore
from core.points import Quality


class SqlHistoryDatabase:
    """One engine on ``url``, disposed by :meth:`close`."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def current_revision(self) -> str | None:
        return current_revision(self.engine)

    def head_revision(self) -> str | None:
        return head_revision()

    def upgrade(self) -> str | None:
        return upgrade(self.engine)

    def sample_count(self) -> int:
        return SampleStore(self.engine).count()

    def export(self, point: str, t0_us: int, t1_us: int) -> Iterator[tuple[int, float | None, Quality]]:
        return SampleStore(self.engine).export(point, t0_us, t1_us)

    def close(self) -> None:
        self.engine.dispose()
