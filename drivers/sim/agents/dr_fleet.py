"""The world's participants answering demand response: one ``DrAgent`` per participant that has something to
shed (a flexible load behind its meter, a battery), each with its own wallet key, all on one asyncio loop.

``energynet chain up --participants`` runs this beside the meter reporter, so in ``make demo`` a DR event the
operator dispatches is answered by the houses that can answer it: they opt in on chain, curtail and discharge
over the world's Modbus face, restore afterwards and claim once the console has verified them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from eth_account import Account

from contracts.deploy import Deployment
from drivers.sim.agents.dr_agent import DrAgent, HomeDevices, Policy
from drivers.sim.world.participants import ParticipantsFile, password

log = logging.getLogger(__name__)

# A house polls the chain for requests this often: fast enough to opt in well before the event's start
# (the console dispatches minutes ahead), slow enough that 30 agents add ~15 requests/s to the node.
POLL_S = 2.0


def agents_of(book: ParticipantsFile, rpc_url: str, deployment: Deployment, secret: str | None = None,
              poll_s: float = POLL_S) -> list[DrAgent]:
    """A DR agent for every participant with a flexible meter or a battery (the others have nothing to
    shed and would only decline), keys decrypted from the participants' keystores (``secret``: their password,
    default ``$ENERGYNET_PARTICIPANT_PASSWORD`` or the demo's)."""
    agents = []
    for p in book.participants:
        flex = next((d.device_id for d in p.devices if d.kind == "meter" and d.flexible), None)
        battery = next((d.device_id for d in p.devices if d.kind == "battery"), None)
        if flex is None and battery is None:
            continue
        key = Account.from_key(Account.decrypt(json.loads(p.keystore.read_text(encoding="utf-8")),
                                               secret or password()))
        agents.append(DrAgent(rpc_url, key, deployment, HomeDevices(book.modbus_host, book.modbus_port, flex, battery),
                              Policy(), poll_s=poll_s))
    return agents


def run_dr_fleet(rpc_url: str, deployment: Deployment, book: ParticipantsFile, stop: Callable[[], bool]) -> int:
    """Run the agents of ``book`` until ``stop()`` (blocking: its own loop); returns how many ran."""
    agents = agents_of(book, rpc_url, deployment)
    log.info("demand response: %d of %d participants answer events", len(agents), len(book.participants))

    async def keep(agent: DrAgent) -> None:
        # an agent whose poll failed (node gone, restarted) comes back after a pause: a house does not give
        # up on demand response because its router rebooted
        while True:
            try:
                await agent.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # logged, then the agent starts again
                log.warning("demand response: %s's agent stopped (%s); starting it again in 5 s",
                            agent.account.address, exc)
                await asyncio.sleep(5)

    async def main() -> None:
        tasks = [asyncio.create_task(keep(a), name=f"dr-agent-{a.account.address[:8]}") for a in agents]
        try:
            while not stop():
                await asyncio.sleep(0.2)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    asyncio.run(main())
    return len(agents)
