"""Modify over real HTTP (PATCH /api/v1/orders/{id}): priority kept or lost as the rules say, new terms bounded
by the signature, every refusal a 4xx naming its field and rule with nothing applied; the published EIP-712
domain and the chain id it is built from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from console.api.auth import DEFAULT_CHAIN_ID, ChainIdError, chain_id_for
from tests.api.conftest import CHAIN_ID, PRODUCT, Market
from tests.api.test_participant_api import offer, problem

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


async def _sell(m: Market, who: str, **fields: Any) -> str:
    resp = await offer(m, who, **fields)
    assert resp.status_code == 201, resp.text
    order_id: str = resp.json()["order"]["order_id"]
    return order_id


async def _patch(m: Market, who: str, order_id: str, **body: Any) -> Any:
    return await m.client.patch(f"/api/v1/orders/{order_id}", json=body, headers=m.traders[who].auth)


async def test_modify_keeps_priority_on_a_reduction_and_loses_it_on_a_new_price(market: Market) -> None:
    m = market
    first = await _sell(m, "alice", quantity=1000, price=200)
    second = await _sell(m, "bob", quantity=1000, price=200)
    # alice reduces: same price, less quantity -> keeps her place ahead of bob.
    resp = await _patch(m, "alice", first, quantity=600)
    assert resp.status_code == 200, resp.text
    assert resp.json()["events"] == ["Modified"]
    assert (resp.json()["order"]["remaining"], resp.json()["order"]["cancelled"]) == (600, 400)
    take = await offer(m, "carol", side="buy", quantity=600, price=200, tif="ioc")
    assert [(t["sell_id"], t["quantity"]) for t in take.json()["trades"]] == [(first, 600)]
    # bob now rests alone; alice offers again and bob raises his price and comes back down: he loses priority.
    third = await _sell(m, "alice", quantity=500, price=205)
    resp = await _patch(m, "bob", second, price=205)
    assert resp.status_code == 200 and resp.json()["events"] == ["Modified", "Rested"], resp.text
    take = await offer(m, "carol", side="buy", quantity=1500, price=205, tif="ioc")
    assert [(t["sell_id"], t["quantity"]) for t in take.json()["trades"]] == [(third, 500), (second, 1000)]


async def test_a_modify_that_crosses_trades_at_once(market: Market) -> None:
    m = market
    ask = await _sell(m, "alice", quantity=1000, price=200)  # signed at 200: any price >= 200 stays covered
    assert (await _patch(m, "alice", ask, price=210)).status_code == 200
    bid = (await offer(m, "bob", side="buy", quantity=400, price=205)).json()["order"]["order_id"]
    resp = await _patch(m, "alice", ask, price=205)
    assert resp.status_code == 200, resp.text
    assert [(t["buy_id"], t["sell_id"], t["quantity"], t["price"]) for t in resp.json()["trades"]] == [
        (bid, ask, 400, 205)]
    assert resp.json()["order"]["remaining"] == 600


@pytest.mark.parametrize(("body", "status", "field", "rule"), [
    ({"quantity": 150}, 422, "quantity", "invalid-quantity"),  # off-lot (lot 100)
    ({"quantity": 0}, 422, "quantity", "greater_than_equal"),
    ({"price": 203}, 422, "price", "invalid-price"),  # off-tick (tick 5)
    ({"price": -5}, 422, "price", "greater_than_equal"),
    ({"price": 0}, 422, "price", "greater_than_equal"),
    ({"price": 195}, 422, "price", "beyond-signed-limit"),  # a sell signed at 200 may not go lower
    ({"quantity": 1100}, 422, "quantity", "beyond-signed-quantity"),  # signed 1000 Wh
    ({"price": 200, "quantity": 1000}, 409, "order_id", "not-modifiable"),  # nothing changes
    ({"colour": "red"}, 422, "colour", "extra_forbidden"),
])
async def test_bad_modifies_are_refused_with_field_and_rule(market: Market, body: dict[str, Any], status: int,
                                                            field: str, rule: str) -> None:
    m = market
    order_id = await _sell(m, "alice", quantity=1000, price=200)
    before = m.service.book.snapshot()
    problem(await _patch(m, "alice", order_id, **body), status, field, rule)
    after = m.service.book.snapshot()
    assert after.orders == before.orders and after.products == before.products


async def test_modify_of_someone_elses_or_a_closed_order(market: Market) -> None:
    m = market
    order_id = await _sell(m, "alice", quantity=1000, price=200)
    problem(await _patch(m, "bob", order_id, quantity=500), 404, "order_id", "not-owner")
    problem(await _patch(m, "alice", "0xnothing", quantity=500), 404, "order_id", "unknown-order")
    problem(await m.client.patch(f"/api/v1/orders/{order_id}", json={"quantity": 500}), 401,
            "header.Authorization", "token-missing")
    assert (await m.client.delete(f"/api/v1/orders/{order_id}", headers=m.traders["alice"].auth)).status_code == 200
    problem(await _patch(m, "alice", order_id, quantity=500), 409, "order_id", "order-closed")
    ioc = (await offer(m, "bob", side="buy", quantity=100, price=200, tif="ioc")).json()["order"]["order_id"]
    problem(await _patch(m, "bob", ioc, quantity=100), 409, "order_id", "order-closed")


async def test_published_domain_signs_what_the_api_verifies(market: Market) -> None:
    m = market
    pub = (await m.client.get("/api/v1/eip712")).json()
    assert pub["domain"] == {"name": "EnergyNet Market", "version": "1", "chainId": CHAIN_ID}
    assert [f["name"] for f in pub["types"]["EIP712Domain"]] == ["name", "version", "chainId"]
    enc = pub["encodings"]
    trader = m.traders["alice"]
    body = {"participant": trader.id, "product": PRODUCT, "side": "sell", "quantity": 700, "price": 195,
            "nonce": 7, "tif": "gtc"}
    message = {"participant": trader.address, "product": PRODUCT, "side": enc["side"]["sell"], "quantity": 700,
               "price": 195, "hasPrice": True, "kind": enc["kind"]["limit"], "tif": enc["tif"]["gtc"],
               "validFrom": 0, "validUntil": 0, "condition": "", "grid": enc["grid"]["none"], "nonce": 7}
    types = {"EIP712Domain": pub["types"]["EIP712Domain"], "Order": pub["types"]["Order"]}
    signable = encode_typed_data(full_message={"types": types, "primaryType": "Order", "domain": pub["domain"],
                                               "message": message})
    body["signature"] = "0x" + bytes(Account.sign_message(signable, trader.key).signature).hex()
    resp = await m.client.post("/api/v1/trades/offer", json=body)
    assert resp.status_code == 201, resp.text


def test_chain_id_comes_from_config_or_the_deployment(tmp_path: Path) -> None:
    dep = tmp_path / "deployment.json"
    assert chain_id_for(None, None) == DEFAULT_CHAIN_ID
    assert chain_id_for(None, dep) == DEFAULT_CHAIN_ID  # no deployment written yet
    assert chain_id_for(5, None) == 5
    dep.write_text(json.dumps({"chainId": 11155111, "contracts": {}}))
    assert chain_id_for(None, dep) == 11155111
    assert chain_id_for(11155111, dep) == 11155111
    with pytest.raises(ChainIdError, match=r"chain_id = 5 but the deployment .* is on chain 11155111"):
        chain_id_for(5, dep)
    dep.write_text("{not json")
    with pytest.raises(ChainIdError, match="no readable chainId"):
        chain_id_for(None, dep)
