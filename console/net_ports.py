"""Free TCP ports for servers started on this machine (demo children, tests, benchmarks).

A port the kernel hands out for ``bind(0)`` lies in the ephemeral range, the same range client sockets draw
their local port from. A server port there can be taken before the server binds it: the console's 70 Modbus
clients retrying against a world still building its model once connected a socket *to itself* on the
world's port (TCP simultaneous open), and the world then failed with "address already in use". Ports are
therefore drawn below the ephemeral range, where no client socket ever lands."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_FALLBACK_EPHEMERAL_LOW = 32768  # Linux default (net.ipv4.ip_local_port_range)
_LOWEST = 20000  # above the well-known and most registered service ports


def ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _FALLBACK_EPHEMERAL_LOW


def bindable(port: int) -> bool:
    """Nothing holds 127.0.0.1:``port``, not even a connection in TIME_WAIT."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port no server and no client socket holds now, outside the ephemeral range when there is room."""
    low = ephemeral_low()
    if low - _LOWEST >= 1000:
        for port in random.sample(range(_LOWEST, low), 200):
            if bindable(port):
                return port
    with socket.socket() as s:  # a machine whose ephemeral range starts low: take what the kernel gives
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
