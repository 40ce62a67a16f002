"""The households' escrow on chain: each lets ``Settlement`` pull what it buys, with its own key (non-custodial:
the console never signs for a participant). `energynet chain up --participants` mints their credits and sends
their gas money; this is the one thing only the holder of the key can do."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from eth_account import Account

from contracts.deploy import Deployment, contract_at, signing_web3
from drivers.sim.traders.households import Household

log = logging.getLogger(__name__)

ALLOWANCE = 2**255  # "unlimited": what each buy needs is checked by the API against its open buys
APPROVE_GAS = 100_000


def approve_settlement(rpc_url: str, deployment: Deployment, households: Sequence[Household], wait_s: float = 120.0,
                       stopped: Callable[[], bool] = lambda: False) -> int:
    """Every household whose allowance to Settlement is below :data:`ALLOWANCE` approves it, once it has gas
    money (waits up to ``wait_s`` for the registration to send it). Returns how many approved now; a household
    already approved (a restarted fleet) sends nothing."""
    done = 0
    deadline = time.monotonic() + wait_s
    for h in households:
        account = Account.from_key(h.key)
        w3 = signing_web3(rpc_url, account)
        token = contract_at(w3, "EnergyNetCredit", deployment.addresses["SettlementToken"])
        settlement = deployment.addresses["Settlement"]
        if int(token.functions.allowance(account.address, settlement).call()) >= ALLOWANCE // 2:
            continue
        while int(w3.eth.get_balance(account.address)) == 0:  # not registered yet: no gas money
            if time.monotonic() > deadline or stopped():
                raise TimeoutError(f"{h.id}: no gas money within {wait_s:.0f} s; is it registered on chain?")
            time.sleep(0.5)
        tx = token.functions.approve(settlement, ALLOWANCE).transact({"gas": APPROVE_GAS})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=60, poll_latency=0.05)
        if receipt["status"] != 1:
            raise RuntimeError(f"{h.id}: approving Settlement reverted ({receipt['transactionHash'].hex()})")
        done += 1
    log.info("traders: %d households let Settlement pull their buys", done)
    return done
