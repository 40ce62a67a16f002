"""What every simulated OPC-UA server does before it builds its address space.

The standard address space (the ~10,000 nodes of the OPC UA base nodeset) is the bulk of a simulator's
start-up: asyncua builds it from generated code in about 1.4 s of CPU, where unpickling the finished
nodes takes about 0.5 s. So the first start writes them to a cache file (in a separate, low-priority
process, after this one is serving) and later starts load that. asyncua's own ``init(shelf_file=…)`` does
not help here: with only ``dbm.dumb`` available (no gdbm/ndbm in this Python) its shelf is slower than
building, and it is not found again (asyncua looks for ``<name>`` or ``<name>.db``, dumb dbm writes
``.dat``/``.dir``), so it would be rebuilt on every start. The cache is keyed by the asyncua and Python
versions; a file that cannot be loaded is removed and the address space built as usual. Simulator
processes opt in (``energynet sim grid`` and ``sim world``: :func:`cache_path`); servers built in a test do not.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncua
from asyncua import ua
from asyncua.server.address_space import NodeData
from asyncua.server.server import Server
from asyncua.ua.object_ids import ObjectIds

log = logging.getLogger(__name__)

# asyncua logs every client connect and subscription at INFO: a simulator serving a console all day
# would fill its log with them.
_CHATTY = ("asyncua.server", "asyncua.server.server", "asyncua.server.address_space",
           "asyncua.server.binary_server_asyncio", "asyncua.server.subscription_service")
# Set to "0" to build the standard address space every time (no cache read or written).
CACHE_ENV = "ENERGYNET_OPCUA_CACHE"


def cache_path() -> Path:
    """Where the standard address space is cached: the user's cache folder, per asyncua and Python version."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    tag = f"asyncua{asyncua.__version__}-py{sys.version_info.major}{sys.version_info.minor}"
    return root / "energynet" / f"opcua-standard-nodes-{tag}.pickle"


async def open_server(server: Server, endpoint: str, name: str, namespace: str, cache: Path | None = None) -> int:
    """Initialise ``server`` unsecured at ``endpoint`` under ``name``; returns the index of ``namespace``.
    With ``cache`` (a simulator process: :func:`cache_path`), the standard nodes come from that file."""
    for logger in _CHATTY:
        logging.getLogger(logger).setLevel(logging.ERROR)
    if cache is None:
        await server.init()
    else:
        await init_server(server, cache)
    server.set_endpoint(endpoint)
    server.set_server_name(name)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    return int(await server.register_namespace(namespace))


async def init_server(server: Server, cache: Path) -> bool:
    """``server.init()``, with the standard address space from ``cache`` when there is one (True then);
    without one, a background process writes it for the next start."""
    if os.environ.get(CACHE_ENV) == "0":
        await server.init()
        gc.freeze()
        return False
    nodes = _read_cache(cache)
    if nodes is None:
        await server.init()
        gc.freeze()
        _write_cache_later(cache)
        return False
    iserver = server.iserver

    async def load_cached(_shelf_file: Path | None = None) -> None:
        iserver.aspace._nodes = nodes  # what fill_address_space would have built

    iserver.load_standard_address_space = load_cached  # type: ignore[method-assign,assignment]
    await server.init()
    return True


def _read_cache(cache: Path) -> dict[ua.NodeId, NodeData] | None:
    """The cached standard nodes, or None (no file; a truncated or foreign one is removed)."""
    # ~150,000 objects: without the collector running between them the load takes ~30 % less CPU
    # (0.88 vs 1.28 s, measured on the loaded 2-core VM)
    collecting = gc.isenabled()
    gc.disable()
    try:
        with cache.open("rb") as f:
            nodes = pickle.load(f)  # our own file in the user's cache folder
        # The nodes live as long as the server, and so do the modules imported so far: out of the collector's
        # sight (the permanent generation). Otherwise the collector's next runs walk all of them, once per
        # generation they move up (≈ 0.7 s of CPU in the first seconds, a gen-2 run holding the GIL for over
        # a second on a loaded machine: the world's loop did not answer a client's watchdog read in time).
        gc.freeze()
    except FileNotFoundError:
        return None
    except Exception as exc:
        log.warning("OPC-UA address space cache %s unusable (%s: %s); building the nodes instead", cache,
                    type(exc).__name__, exc)
        cache.unlink(missing_ok=True)
        return None
    finally:
        if collecting:
            gc.enable()
    if not isinstance(nodes, dict) or ua.NodeId(ObjectIds.Server) not in nodes:  # type: ignore[arg-type]
        log.warning("OPC-UA address space cache %s holds no standard nodes; building them instead", cache)
        cache.unlink(missing_ok=True)
        return None
    return nodes


def _write_cache_later(cache: Path) -> None:
    """Write the cache in a separate process at the lowest CPU priority: not on this start-up's path."""
    try:
        subprocess.Popen([sys.executable, "-m", "drivers.sim.opcua_base", "--write-cache", str(cache)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, preexec_fn=lambda: os.nice(19))
    except OSError as exc:
        log.info("OPC-UA address space cache not written: %s", exc)


async def write_cache(cache: Path) -> None:
    """Build the standard address space alone and pickle its nodes to ``cache`` (atomically)."""
    server = Server()
    await server.iserver.load_standard_address_space()
    cache.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=cache.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(server.iserver.aspace._nodes, f, pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)  # two simulators writing at once: the last complete file wins
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="write the OPC-UA standard address space cache")
    p.add_argument("--write-cache", type=Path, default=None, help=f"the file (default {cache_path()})")
    args = p.parse_args(argv)
    asyncio.run(write_cache(args.write_cache or cache_path()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
