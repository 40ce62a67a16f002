"""One OPC-UA write, for an operator's command: connect, write, read back, disconnect.

A session of its own rather than the acquisition's subscription session: a command is rare, and a
write that hangs must not stall the samples. Security mode None only (the simulated world); a secured
plant's commands need the session's certificate handling (drivers.opcua.secure) first.
"""

from __future__ import annotations

import asyncio

from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import UaError


async def write_double(endpoint: str, node_id: str, value: float, timeout_s: float = 5.0) -> None:
    """Write ``value`` to ``node_id``; raises ``RuntimeError`` naming the node and endpoint on failure."""
    client = Client(endpoint, timeout=timeout_s)
    client.name = client.description = "EnergyNet Console (command)"
    try:
        await asyncio.wait_for(client.connect(), timeout_s)
    except (OSError, TimeoutError, UaError) as exc:
        raise RuntimeError(f"OPC-UA command: cannot connect to {endpoint} to write {node_id}: {exc}") from exc
    try:
        node = client.get_node(node_id)
        await asyncio.wait_for(node.write_value(ua.DataValue(ua.Variant(float(value), ua.VariantType.Double))),
                               timeout_s)
    except (TimeoutError, UaError) as exc:
        raise RuntimeError(f"OPC-UA command: writing {value} to {node_id} at {endpoint} failed: {exc}") from exc
    finally:
        await client.disconnect()
