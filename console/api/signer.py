"""Signing orders with one of the grid's own keys (the grid's market-maker account).

A participant signs on its own device and the console never sees its key; the grid's account is the
grid's, so its key is in the grid's keystore beside the operator's, decrypted once at start-up.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

from console.api.auth import digest, order_message, sign, signable
from console.services.market_maker import SignedOrder


class KeystoreOrderSigner:
    """EIP-712 signatures of ``account`` in the settlement contract's domain (``chain_id``, ``contract``)."""

    def __init__(self, account: LocalAccount, chain_id: int, contract: str | None) -> None:
        self._account = account
        self.chain_id = chain_id
        self.contract = contract

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign(self, order: dict[str, Any]) -> SignedOrder:
        message = order_message(self.address, order)
        signature = sign("Order", message, self.chain_id, self._account.key, self.contract)
        return SignedOrder(digest(signable("Order", message, self.chain_id, self.contract)), message, signature)
