"""console.heap.settle_heap: what is alive at the start is frozen (full collections no longer walk it), what
is garbage at the start is collected first (never frozen), and what comes later is collected as usual."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from console.heap import pause_collector, resume_collector, settle_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def _cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


@pytest.fixture
def thawed() -> Iterator[None]:
    """The test's own freeze is undone (everything frozen goes back to the oldest generation)."""
    yield
    gc.unfreeze()
    gc.enable()


def _tracked(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())  # the three generations; the frozen heap is not in them


def test_settle_heap_freezes_the_living_and_collects_the_dead_first(thawed: None) -> None:
    alive = _cycle()
    dead = weakref.ref(_cycle())  # a cycle nothing refers to: only the collector frees it
    assert dead() is not None
    frozen_before = gc.get_freeze_count()

    settle_heap()

    assert dead() is None  # collected, not frozen for the life of the process
    assert not _tracked(alive) and not _tracked(alive.other)  # in the permanent generation now
    assert gc.get_freeze_count() >= frozen_before + 2  # at least the two nodes (and their attribute dicts)

    later = weakref.ref(_cycle())  # made after the settle: an ordinary young object
    assert later() is not None and _tracked(later())
    gc.collect()
    assert later() is None


def test_paused_the_collector_frees_no_cycle_until_the_heap_is_settled(thawed: None) -> None:
    """A start: no collector runs between pause_collector and settle_heap (however many objects are made),
    then the start's garbage is collected, its survivors frozen, and the collector runs again."""
    pause_collector()
    dead = weakref.ref(_cycle())
    for _ in range(50_000):  # far past the young generation's threshold (2,000 allocations by default)
        _cycle()
    assert dead() is not None and not gc.isenabled()

    settle_heap()

    assert dead() is None and gc.isenabled()
    later = weakref.ref(_cycle())
    for _ in range(50_000):
        _cycle()
    assert later() is None  # the collector ran by itself


def test_the_collector_resumed_at_the_window_frees_cycles_by_itself(thawed: None) -> None:
    pause_collector()
    resume_collector()
    later = weakref.ref(_cycle())
    for _ in range(50_000):
        _cycle()
    assert gc.isenabled() and later() is None
