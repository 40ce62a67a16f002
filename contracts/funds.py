"""A participant's settlement-token funds on chain, read with async web3 (the escrow check's adapter)."""

from __future__ import annotations

import asyncio

from web3 import AsyncWeb3

from contracts.artifacts import load
from contracts.rpc import async_http_provider


class TokenFunds:
    """``balanceOf(who)`` and ``allowance(who, spender)`` of an ERC-20 (the spender: ``Settlement``, which pulls
    a buyer's payment). Any failure to answer (refused, timeout, node error) propagates."""

    def __init__(self, rpc_url: str, token: str, spender: str, *, timeout_s: float = 3.0) -> None:
        self.w3 = AsyncWeb3(async_http_provider(rpc_url, timeout=timeout_s))
        self.token = self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(token),
                                          abi=load("EnergyNetCredit").abi)
        self.spender = AsyncWeb3.to_checksum_address(spender)

    async def funds(self, address: str) -> tuple[int, int]:
        who = AsyncWeb3.to_checksum_address(address)
        balance, allowance = await asyncio.gather(self.token.functions.balanceOf(who).call(),
                                                  self.token.functions.allowance(who, self.spender).call())
        return int(balance), int(allowance)

    async def close(self) -> None:
        await self.w3.provider.disconnect()
