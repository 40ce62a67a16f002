"""The console's EIP-712 digest and signer recovery against eth_account's independent implementation."""

from __future__ import annotations

import secrets

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from console.api.auth import (
    SECP256K1_N,
    SignatureMalformed,
    digest,
    fast_digest,
    order_message,
    recover_fast,
    sign,
    signable,
)

KEY = "0x" + "4c" * 32
ADDRESS = Account.from_key(KEY).address

orders = st.fixed_dictionaries({
    "product": st.integers(0, 2**63 - 1), "side": st.sampled_from(["buy", "sell"]),
    "quantity": st.integers(1, 2**63 - 1), "price": st.none() | st.integers(0, 2**63 - 1),
    "kind": st.sampled_from(["limit", "market-with-limit"]), "tif": st.sampled_from(["gtc", "gtd", "ioc", "fok"]),
    "valid_from": st.none() | st.integers(1, 2**63 - 1), "valid_until": st.none() | st.integers(1, 2**63 - 1),
    "condition": st.none() | st.text(max_size=40), "grid": st.sampled_from(["none", "admit-if-helps"]),
    "nonce": st.integers(0, 2**63 - 1),
})


@settings(max_examples=60, deadline=None)
@given(order=orders, chain_id=st.integers(1, 2**32))
def test_the_digest_is_eth_accounts(order: dict[str, object], chain_id: int) -> None:
    message = order_message(ADDRESS, order)
    assert "0x" + fast_digest("Order", message, chain_id).hex() == digest(signable("Order", message, chain_id))


def test_recovery_names_the_signer_and_refuses_what_the_contract_would() -> None:
    message = order_message(ADDRESS, {"product": 1_800_000_000, "side": "sell", "quantity": 1000, "price": 200,
                                      "nonce": 7})
    signature = sign("Order", message, 31337, KEY)
    signed = recover_fast("Order", message, 31337, signature)
    assert signed.signer == ADDRESS
    assert signed.digest == digest(signable("Order", message, 31337))
    # Another chain id is another digest: the same signature names someone else.
    assert recover_fast("Order", message, 1, signature).signer != ADDRESS
    # The malleable twin (n − s, v flipped) is a valid curve signature, refused as OpenZeppelin's ECDSA does.
    raw = bytes.fromhex(signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    twin = raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - raw[64]])
    with pytest.raises(SignatureMalformed, match="lower half"):
        recover_fast("Order", message, 31337, "0x" + twin.hex())
    with pytest.raises(SignatureMalformed, match="v must be 27 or 28"):
        recover_fast("Order", message, 31337, signature[:-2] + "01")
    with pytest.raises(SignatureMalformed, match="130 hex digits"):
        recover_fast("Order", message, 31337, "0x" + secrets.token_hex(64))


@settings(max_examples=30, deadline=None)
@given(order=orders, chain_id=st.integers(1, 2**32), contract=st.binary(min_size=20, max_size=20))
def test_the_digest_in_the_settlement_contracts_domain_is_eth_accounts(order: dict[str, object], chain_id: int,
                                                                       contract: bytes) -> None:
    from eth_utils.address import to_checksum_address

    address = to_checksum_address(contract)
    message = order_message(ADDRESS, order)
    ours = fast_digest("Order", message, chain_id, address)
    assert "0x" + ours.hex() == digest(signable("Order", message, chain_id, address))
    assert ours != fast_digest("Order", message, chain_id)  # bound to the contract: another digest
