"""Buffered historian writer: batches off the UI thread, spool when the DB is away.

Rows queue in memory and a worker thread writes them in batches (by size or
after ``flush_s``). If the database fails, the batch goes to the local spool
and so do all later batches, to keep their order, until the database answers
again; then the spool is replayed in order and removed. Inserts skip rows
already stored (point + time), so a batch that reached the database before
the failure was reported is not stored twice. Memory is bounded: past
``max_queued`` rows the oldest go to the spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from console.store.samples import Row, SampleStore
from console.store.spool import Spool
from core.history import HistorianStats

log = logging.getLogger(__name__)

DB_ERRORS = (DBAPIError, SQLAlchemyError, OSError)


class HistorianWriter:
    """Owns the worker thread, the queue and the spool."""

    def __init__(
        self,
        store: SampleStore,
        spool: Spool,
        batch_rows: int = 5000,
        flush_s: float = 1.0,
        max_queued: int = 500_000,
        retry_s: float = 1.0,
    ) -> None:
        self.store = store
        self.spool = spool
        self.batch_rows = batch_rows
        self.flush_s = flush_s
        self.max_queued = max_queued
        self.retry_s = retry_s
        self._queue: deque[Row] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._replay_offset = 0
        self._next_retry = 0.0
        self._written = self._spooled = self._replayed = 0
        self._db_ok = True
        self._last_error: str | None = None
        self._idle = threading.Event()

    # ---- any thread -------------------------------------------------------------

    def submit(self, rows: Iterable[Row]) -> None:
        """Queue rows; never blocks on the database."""
        with self._cond:
            self._queue.extend(rows)
            self._idle.clear()
            if len(self._queue) >= self.batch_rows:
                self._cond.notify()

    def stats(self) -> HistorianStats:
        with self._cond:
            queued = len(self._queue)
        return HistorianStats(queued, self._written, self._spooled, self._replayed, bool(self.spool),
                              self._db_ok, self._last_error, len(self.spool.corruptions))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="historian-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Write or spool everything queued, then end the thread.

        Rows queued while the writer never ran (a start cut short) are written too: the thread is started
        for them. If the database and the spool both hang past ``timeout`` s, the rows still queued are
        logged as lost rather than waited for forever."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
            pending = bool(self._queue)
        if self._thread is None and pending:
            self.start()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("historian: the writer did not finish within %.0f s; %d queued rows are not stored",
                          timeout, len(self._queue))
            self._thread = None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until the queue is empty and the spool replayed (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                self._cond.notify()
            if self._idle.wait(0.05):
                return True
        return False

    # ---- worker thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                if len(self._queue) < self.batch_rows and not self._stopping:
                    self._cond.wait(self.flush_s)
                batch = [self._queue.popleft() for _ in range(min(self.batch_rows, len(self._queue)))]
                overflow = len(self._queue) > self.max_queued
                stopping = self._stopping and not self._queue
            if batch:
                self._handle(batch)
            elif self.spool and time.monotonic() >= self._next_retry:
                self._try_replay()
            if overflow:
                self._spill()
            if not batch and not self.spool:
                with self._cond:
                    if not self._queue:
                        self._idle.set()
            if stopping and not batch:
                return

    def _handle(self, batch: list[Row]) -> None:
        if self.spool and not (time.monotonic() >= self._next_retry and self._try_replay()):
            self._to_spool(batch)  # keep order: nothing overtakes what is spooled
            return
        try:
            self.store.insert(batch)
        except DB_ERRORS as exc:
            self._failed(exc)
            self._to_spool(batch)
            return
        self._written += len(batch)
        self._db_ok = True

    def _try_replay(self) -> bool:
        """Replay the spool in order; True when it is empty afterwards."""
        try:
            for offset, rows in self.spool.records(self._replay_offset):
                self.store.insert(rows)
                self._replayed += len(rows)
                self._replay_offset = offset
        except DB_ERRORS as exc:
            self._failed(exc)
            return False
        log.info("historian: spool replayed (%d rows so far); database back", self._replayed)
        self.spool.clear()
        self._replay_offset = 0
        self._db_ok = True
        self._last_error = None
        return True

    def _to_spool(self, batch: list[Row]) -> None:
        try:
            self.spool.append(batch)
            self._spooled += len(batch)
        except OSError as exc:  # disk full or gone: say so loudly, keep the rows queued
            log.error("historian: cannot write the spool %s: %s; %d rows stay in memory",
                      self.spool.path, exc, len(batch))
            with self._cond:
                self._queue.extendleft(reversed(batch))
            time.sleep(self.retry_s)

    def _spill(self) -> None:
        """Memory bound: move the oldest queued rows to the spool."""
        with self._cond:
            spill = [self._queue.popleft() for _ in range(len(self._queue) - self.max_queued // 2)]
        log.warning("historian: %d rows queued beyond the limit went to the spool", len(spill))
        for i in range(0, len(spill), self.batch_rows):
            self._to_spool(spill[i:i + self.batch_rows])

    def _failed(self, exc: BaseException) -> None:
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
        if self._db_ok:
            log.error("historian: database write failed (%s); spooling to %s", message, self.spool.path)
        self._db_ok = False
        self._last_error = message
        self._next_retry = time.monotonic() + self.retry_s
