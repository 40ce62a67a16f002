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
    await _write(endpoint, node_id, ua.Variant(float(value), ua.VariantType.Double), timeout_s)


async def write_boolean(endpoint: str, node_id: str, value: bool, timeout_s: float = 5.0) -> None:
    """Write the Boolean ``value`` to ``node_id`` (a breaker's close command); errors as :func:`write_double`."""
    await _write(endpoint, node_id, ua.Variant(bool(value), ua.VariantType.Boolean), timeout_s)


async def _write(endpoint: str, node_id: str, variant: ua.Variant, timeout_s: float) -> None:
    value = variant.Value
    client = Client(endpoint, timeout=timeout_s)
    client.name = client.description = "EnergyNet Console (command)"
    try:
        await asyncio.wait_for(client.connect(), timeout_s)
    except (OSError, TimeoutError, UaError) as exc:
        raise RuntimeError(f"OPC-UA command: cannot connect to {endpoint} to write {node_id}: {exc}") from exc
    try:
        node = client.get_node(node_id)
        await asyncio.wait_for(node.write_value(ua.DataValue(variant)),
                               timeout_s)
    except (TimeoutError, UaError) as exc:
        raise RuntimeError(f"OPC-UA command: writing {value} to {node_id} at {endpoint} failed: {exc}") from exc
    finally:
        await client.disconnect()
