"""console.app.tune_malloc: large blocks keep their own mapping after glibc would have raised its mmap
threshold (the dynamic threshold that let big transient buffers fragment the heaps of a long-running
console). Each case in a fresh interpreter, so the allocator starts in its default state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = r"""
import ctypes, ctypes.util, json, sys
from console.app import tune_malloc

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
applied = tune_malloc() if sys.argv[1] == "tuned" else False
libc.free(libc.malloc(4 << 20))  # freeing a mapped 4 MiB block raises glibc's dynamic threshold to 4 MiB
before = libc.mallinfo2().hblks
block = libc.malloc(512 << 10)  # 512 KiB: mapped only while the threshold is below it
print(json.dumps({"applied": applied, "mapped": libc.mallinfo2().hblks - before}))
libc.free(block)
"""


def probe(mode: str, **env: str) -> dict[str, object]:
    import json

    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=60)
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_large_block_is_mapped_after_tuning_and_carved_from_the_heap_without() -> None:
    assert probe("default") == {"applied": False, "mapped": 0}  # glibc's dynamic threshold: from the heap
    assert probe("tuned") == {"applied": True, "mapped": 1}  # its own mapping, returned when freed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_the_operators_glibc_tunables_win() -> None:
    assert probe("tuned", GLIBC_TUNABLES="glibc.malloc.arena_max=4") == {"applied": False, "mapped": 0}
