"""The composition root runs the market and the participant API when [market] and [api] are on, and a
restart of the whole application keeps the book."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from console.api.app import ApiServer
from console.bootstrap import build
from console.config import ConfigError, load
from console.services.market import MarketService
from tests.api.conftest import CHAIN_ID, Trader, _trader, write_participants
from tests.conftest import ServerProcess, free_port
from tests.support.cli import plant_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def _config(tmp_path: Path, endpoint: str, port: int, traders: dict[str, Trader]) -> Path:
    write_participants(tmp_path / "participants.toml", traders, suspended=set())
    cfg = tmp_path / "plant.toml"
    cfg.write_text(plant_config(endpoint, f'''
[historian]
url = "sqlite:///{tmp_path / 'h.sqlite'}"
spool = "{tmp_path / 'spool'}"

[market]
enabled = true
lot = 100

[api]
enabled = true
port = {port}
participants = "participants.toml"
'''))
    return cfg


async def test_the_application_serves_the_api_and_keeps_the_book_across_a_restart(
        plant_server: ServerProcess, tmp_path: Path) -> None:
    import time

    assert CHAIN_ID == 31337  # the API's default EIP-712 chain id, which build() uses
    traders = {"alice": _trader("alice")}
    cfg = _config(tmp_path, plant_server.endpoint, free_port(), traders)
    product = (int(time.time()) // 900 + 4) * 900  # an hour ahead: open
    app = build(load(cfg))
    assert isinstance(app.market, MarketService) and isinstance(app.api, ApiServer)
    assert app.parts()[-3:] == [app.market, app.participants, app.api]  # the API reads the admin's register
    await app.start()
    try:
        async with httpx.AsyncClient(base_url=app.api.url) as client:
            resp = await client.post("/api/v1/trades/offer", json=traders["alice"].order(product=product))
            assert resp.status_code == 201, resp.text
            order_id = resp.json()["order"]["order_id"]
    finally:
        await app.stop()
    again = build(load(cfg))
    await again.start()
    try:
        assert again.market is not None and again.api is not None
        async with httpx.AsyncClient(base_url=again.api.url) as client:
            mine = (await client.get("/api/v1/orders", headers=traders["alice"].auth)).json()
        assert [(o["order_id"], o["status"], o["remaining"]) for o in mine] == [(order_id, "resting", 1000)]
        assert again.market.mismatches == ()
    finally:
        await again.stop()


def test_the_api_without_the_market_or_with_a_broken_participants_file_is_a_config_error(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "opc.tcp://127.0.0.1:4840/x", 0, {"a": _trader("a")})
    text = cfg.read_text()
    cfg.write_text(text.replace("[market]\nenabled = true", "[market]\nenabled = false"))
    with pytest.raises(ConfigError, match=r"needs the market"):
        build(load(cfg))
    cfg.write_text(text)
    (tmp_path / "participants.toml").write_text('[[participants]]\nid = "a"\naddress = "0x12"\n')
    with pytest.raises(ConfigError, match=r"participants\[0\] 'a'.address: a 0x-prefixed 20-byte hex address"):
        build(load(cfg))
