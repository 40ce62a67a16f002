"""The participant API builds its routes when it starts, not on the first participant's order: FastAPI
builds an included router's routes (dependencies, pydantic adapters, handlers) lazily, on the first request
that reaches it, some 30 ms on the loop in front of the first orders (docs/BENCHMARKS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import routing

from console.api.app import create_app
from console.api.participants import ParticipantDirectory
from tests.api.conftest import CHAIN_ID, Market, _trader


@pytest.fixture
def route_builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths FastAPI builds an effective route for, as it builds them (a spy: the real build runs)."""
    built: list[str] = []
    original = routing._EffectiveRouteContext.from_api_route

    def spy(*args: Any, **kwargs: Any) -> Any:
        context = original(*args, **kwargs)
        built.append(context.path)
        return context

    monkeypatch.setattr(routing._EffectiveRouteContext, "from_api_route", staticmethod(spy))
    yield built


async def test_a_started_server_builds_no_route_on_the_first_order(market: Market, route_builds: list[str]) -> None:
    alice = market.traders["alice"]
    r = await market.client.post("/api/v1/trades/offer", json=alice.order(side="sell", quantity=1000, price=200))
    assert r.status_code == 201, r.text
    assert route_builds == []


async def test_an_app_not_started_builds_its_routes_on_the_first_request(
    market: Market, route_builds: list[str]
) -> None:
    # The control: an app served without ApiServer.start, so the spy above can see a build.
    alice = _trader("alice")
    app = create_app(market.service, ParticipantDirectory([]), chain_id=CHAIN_ID)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        r = await client.post("/api/v1/trades/offer", json=alice.order())
    assert (r.status_code, r.json()["rule"]) == (422, "unknown-participant")  # (an empty directory)
    assert "/api/v1/trades/offer" in route_builds
