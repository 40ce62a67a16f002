"""The console's market side against anvil, as the settlement and market-maker end-to-end tests drive it:
the three dev-key participants (their keys, names and API tokens), the console's gateway + market +
settlement + participant API, signed order bodies, the chain's clock, and the participants file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eth_account import Account

from console.api.app import ApiServer, create_app
from console.api.auth import fast_digest, order_message, sign
from console.api.participants import ParticipantDirectory, token_hash
from console.services.market import MarketService
from console.services.settlement import MatchState, SettlementService
from console.store.market_journal import SqlMarketJournal
from console.store.settlement_store import SqlSettlementStore
from contracts.anvil import CHAIN_ID, DEV_KEYS
from contracts.deploy import Deployment
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.market import MarketRules
from tests.contracts.conftest import ALICE, BOB, CAROL, Suite

KEYS = {Account.from_key(k).address: k for k in DEV_KEYS}
NAMES = {"alice": ALICE, "bob": BOB, "carol": CAROL}
TOKENS = {n: f"token-{n}-0123456789abcdef0123456789" for n in NAMES}


class Console:
    """The console's market side: gateway + outbox, market journal, settlement, participant API."""

    def __init__(self, tmp: Path, url: str, dep: Deployment, *, max_wait_s: float) -> None:
        db = f"sqlite:///{tmp / 'console.sqlite'}"
        self.gateway = ChainGateway(url, Account.from_key(DEV_KEYS[0]), dep, Outbox(tmp / "outbox.db"),
                                    poll_interval=0.02, health_interval=0.2)
        self.market = MarketService(MarketRules(tick=1, lot=100), SqlMarketJournal(db))
        contract = dep.addresses["OrderSettlement"]
        self.settlement = SettlementService(
            SqlSettlementStore(db), self.gateway, self.market, max_wait_s=max_wait_s, poll_s=0.05,
            order_digest=lambda msg: "0x" + fast_digest("Order", msg, CHAIN_ID, contract).hex())
        app = create_app(self.market, ParticipantDirectory.load(tmp / "participants.toml"), rate_per_s=100,
                         burst=100, chain_id=dep.chain_id, contract=dep.addresses["OrderSettlement"],
                         signed_orders=self.settlement)
        self.api = ApiServer(app, "127.0.0.1", 0)

    async def start(self) -> None:
        for part in (self.gateway, self.market, self.settlement, self.api):
            await part.start()

    async def stop(self) -> None:
        for part in (self.api, self.settlement, self.market, self.gateway):
            await part.stop()


async def until(what: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


def signed_body(name: str, dep: Deployment, **order: Any) -> dict[str, Any]:
    address = NAMES[name]
    body = {"participant": name, "kind": "limit", "tif": "gtc", **order}
    msg = order_message(address, body)
    body["signature"] = sign("Order", msg, CHAIN_ID, KEYS[address], dep.addresses["OrderSettlement"])
    return body


def deployment(s: Suite) -> Deployment:
    c = {"MeterReading": s.meter, "Settlement": s.settlement, "EnergyTrade": s.trade, "GridBalance": s.grid,
         "AchievementNFT": s.nft, "OrderSettlement": s.orders, "EnergyNetCredit": s.token, "SettlementToken": s.token}
    return Deployment(CHAIN_ID, {n: x.address for n, x in c.items() if x is not None}, 0, s.w3.eth.default_account)


def warp_to(s: Suite, t: int) -> None:
    s.w3.provider.make_request("evm_setNextBlockTimestamp", [t])
    s.w3.provider.make_request("evm_mine", [])



def write_participants(tmp: Path, addresses: Mapping[str, str], tokens: Mapping[str, str] = TOKENS) -> None:
    """``tmp/participants.toml``, the participant API's directory: each name's address and API token."""
    (tmp / "participants.toml").write_text("".join(
        f'[[participants]]\nid = "{n}"\naddress = "{a}"\ntoken_sha256 = "{token_hash(tokens[n])}"\n\n'
        for n, a in addresses.items()))


async def deliver_and_pay_out(s: Suite, console: Console, product: int, timeout: float) -> None:
    """End ``product``'s delivery period on chain (its meters already read), wait until every match is
    delivered, then pass the dispute window (an hour) and wait until every match is paid."""
    warp_to(s, product + 900)
    await until(lambda: all(m.state is MatchState.DELIVERED for m in console.settlement.matches()), timeout)
    warp_to(s, s.now() + 3601)  # past the dispute window
    await until(lambda: all(m.state is MatchState.PAID for m in console.settlement.matches()), timeout)
