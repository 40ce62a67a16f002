"""Load generator for bench/opcua_throughput.py: a real asyncua server with N
Double items ``ns=2;s=Load.<i>``, each counting up by one at ``rate`` Hz.

The counter lets the client detect every dropped update. Writes are spread
over 20 slots per period so the load is smooth. Prints ``READY`` when serving.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from datetime import UTC, datetime

from asyncua import Server, ua


async def main(port: int, items: int, rate_hz: float) -> None:
    logging.basicConfig(level=logging.ERROR)
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/load")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace("urn:energynet:bench:load")
    folder = await server.nodes.objects.add_object(ua.NodeId("Load", ns), ua.QualifiedName("Load", ns))
    nodes = [await folder.add_variable(ua.NodeId(f"Load.{i}", ns), ua.QualifiedName(f"L{i}", ns), 0.0)
             for i in range(items)]
    counters = [0] * items
    slots = 20
    async with server:
        print("READY", flush=True)
        period = 1.0 / rate_hz
        next_t = time.monotonic()
        slot = 0
        while True:
            now = datetime.now(UTC)
            for i in range(slot, items, slots):
                counters[i] += 1
                dv = ua.DataValue(ua.Variant(float(counters[i]), ua.VariantType.Double),
                                  SourceTimestamp=now, ServerTimestamp=now)
                await server.write_attribute_value(nodes[i].nodeid, dv)
            slot = (slot + 1) % slots
            next_t += period / slots
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--rate-hz", type=float, default=1.0)
    a = ap.parse_args()
    asyncio.run(main(a.port, a.items, a.rate_hz))
