"""A small real OPC-UA server for driver tests, run as a separate process so
tests can kill it (SIGKILL), freeze it (SIGSTOP) and restart it on the same port.

Layouts
-------
test:  ns=2 string ids ``Test.A``, ``Test.B``, ``Test.C`` (Double, 20 Hz ramps)
plant: a vendor layout unlike the simulator's: numeric ids in a second
       namespace, frequency in mHz, voltage in kV, power in kW.
substation: ``urn:acme:substation`` as ns=2: ``i=5001`` frequency 49.95 Hz
       (Double), ``s=Bay1.U`` 20.4 kV (Float).
substation-renumbered: the same substation after a restart that registers
       ``urn:acme:decoy`` first: the substation is ns=3, and ns=2 holds decoys
       with the same identifiers (7777.0 and -1.0).

SIGUSR1 toggles a hold: the server keeps answering (session, watchdog reads) but writes no new value, as a
server whose data source stalled (a busy machine): its subscribers get keep-alives and no data.

Prints ``READY <port>`` on stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import time
from datetime import UTC, datetime

from asyncua import Server, ua


async def _build(server: Server, layout: str, frequency_mhz: float = 49_987.0) -> list[tuple[object, object]]:
    objects = server.nodes.objects
    if layout == "test":
        ns = await server.register_namespace("urn:energynet:test")
        folder = await objects.add_object(ua.NodeId("Test", ns), ua.QualifiedName("Test", ns))
        nodes = []
        for i, name in enumerate("ABC"):
            node = await folder.add_variable(ua.NodeId(f"Test.{name}", ns), ua.QualifiedName(name, ns), 0.0)
            nodes.append((node, lambda t, i=i: 100.0 * (i + 1) + math.sin(t + i)))
        return nodes
    if layout.startswith("substation"):
        nodes = []
        uris = ["urn:acme:decoy", "urn:acme:substation"] if layout == "substation-renumbered" else [
            "urn:acme:substation"]
        for uri in uris:
            ns = await server.register_namespace(uri)
            decoy = uri == "urn:acme:decoy"
            f = await objects.add_variable(ua.NodeId(5001, ns), ua.QualifiedName("F", ns), 0.0)
            u = await objects.add_variable(ua.NodeId("Bay1.U", ns), ua.QualifiedName("U", ns),
                                           ua.Variant(0.0, ua.VariantType.Float))
            nodes.append((f, lambda t, d=decoy: 7777.0 if d else 49.95))
            nodes.append((u, lambda t, d=decoy: ua.Variant(-1.0 if d else 20.4, ua.VariantType.Float)))
        return nodes
    # plant: ns=2 vendor, ns=3 plant data with numeric ids
    await server.register_namespace("urn:vendor:acme:types")
    ns = await server.register_namespace("urn:vendor:acme:plant7")
    plant = await objects.add_object(ua.NodeId(1000, ns), ua.QualifiedName("Plant7", ns))
    bay = await plant.add_object(ua.NodeId(1100, ns), ua.QualifiedName("Bay_A", ns))
    f_mhz = await plant.add_variable(ua.NodeId(1001, ns), ua.QualifiedName("F_mHz", ns), 49_987.0)
    u_kv = await bay.add_variable(ua.NodeId(1101, ns), ua.QualifiedName("U_kV", ns), 20.6)
    p_kw = await bay.add_variable(ua.NodeId(1102, ns), ua.QualifiedName("P_kW", ns), 1234.5)
    status = await bay.add_variable(ua.NodeId("Bay_A.Breaker", ns), ua.QualifiedName("Breaker", ns), True)
    return [(f_mhz, lambda t: frequency_mhz), (u_kv, lambda t: 20.6), (p_kw, lambda t: 1234.5),
            (status, lambda t: True)]


async def main(port: int, layout: str, rate_hz: float, frequency_mhz: float = 49_987.0) -> None:
    logging.basicConfig(level=logging.WARNING)
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/test")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    nodes = await _build(server, layout, frequency_mhz)
    held = [False]

    def toggle_hold() -> None:
        held[0] = not held[0]

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, toggle_hold)
    async with server:
        print(f"READY {port}", flush=True)
        t0 = time.monotonic()
        while True:
            t = time.monotonic() - t0
            now = datetime.now(UTC)
            for node, fn in [] if held[0] else nodes:
                value = fn(t)
                if isinstance(value, ua.Variant):
                    variant = value
                else:
                    vtype = ua.VariantType.Boolean if isinstance(value, bool) else ua.VariantType.Double
                    variant = ua.Variant(value, vtype)
                await server.write_attribute_value(
                    node.nodeid, ua.DataValue(variant, SourceTimestamp=now, ServerTimestamp=now)  # type: ignore[attr-defined]
                )
            await asyncio.sleep(1 / rate_hz)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--layout", choices=["test", "plant", "substation", "substation-renumbered"], default="test")
    ap.add_argument("--rate-hz", type=float, default=20.0)
    ap.add_argument("--frequency-mhz", type=float, default=49_987.0, help="plant layout: the frequency published")
    a = ap.parse_args()
    asyncio.run(main(a.port, a.layout, a.rate_hz, a.frequency_mhz))
