"""Request and response bodies of the participant API (units as in docs/market.md: Wh, base units per kWh,
epoch seconds)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

U64 = Annotated[int, Field(ge=0, le=2**63 - 1)]
Positive = Annotated[int, Field(ge=1, le=2**63 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OfferIn(_Strict):
    """An order signed by the participant (EIP-712 ``Order``; see docs/market.md "Participant API")."""

    participant: Annotated[str, Field(min_length=1, max_length=64)]
    product: U64  # delivery period start, epoch s
    side: Literal["buy", "sell"]
    quantity: Positive  # Wh, a multiple of the lot
    price: Positive | None = None  # base units per kWh, a multiple of the tick; None only for market-with-limit
    kind: Literal["limit", "market-with-limit"] = "limit"
    tif: Literal["gtc", "gtd", "ioc", "fok"] = "gtc"
    valid_from: U64 | None = None
    valid_until: U64 | None = None
    condition: Annotated[str, Field(max_length=200)] | None = None
    grid: Literal["none", "admit-if-helps", "match-if-helps"] = "none"
    nonce: U64
    signature: Annotated[str, Field(min_length=1, max_length=200)]


class ExecuteIn(_Strict):
    """Take ``quantity`` Wh of a resting offer, at its price or better. The taker signs an EIP-712 ``Order``
    like any other (the offer's product, the other side, ``price`` its limit, immediate-or-cancel), so the
    trade settles on chain against two signed orders (docs/market.md "Execute")."""

    participant: Annotated[str, Field(min_length=1, max_length=64)]
    offer_id: Annotated[str, Field(min_length=1, max_length=80)]
    quantity: Positive
    price: Positive  # the taker's limit, base units per kWh: at least the offer's price to buy, at most to sell
    nonce: U64
    signature: Annotated[str, Field(min_length=1, max_length=200)]


class ModifyIn(_Strict):
    """New terms for one's open order: a new limit ``price`` and/or a new open ``quantity`` (Wh still to trade,
    not the original size); both stay within what the order's signature covers (docs/market.md "Modify")."""

    price: Positive | None = None
    quantity: Positive | None = None


class OrderOut(BaseModel):
    order_id: str
    participant: str
    product: int
    side: Literal["buy", "sell"]
    price: int | None
    status: str
    submitted: int
    filled: int
    cancelled: int
    remaining: int


class TradeOut(BaseModel):
    seq: int
    ts: int
    product: int
    price: int
    quantity: int
    side: Literal["buy", "sell"] | None = None  # the caller's side, in its own history
    buy_id: str
    sell_id: str


class OfferOut(BaseModel):
    """An order as the market shows it to everyone (no participant)."""

    order_id: str
    product: int
    side: Literal["buy", "sell"]
    price: int | None
    remaining: int


class OutcomeOut(BaseModel):
    order: OrderOut
    trades: list[TradeOut]
    events: list[str]  # the kinds of the events the decision made, in order


class Eip712Out(BaseModel):
    """What a client signs against: the EIP-712 domain (with this market's chain id) and the struct types."""

    domain: dict[str, str | int]
    types: dict[str, list[dict[str, str]]]
    encodings: dict[str, dict[str, int]]  # e.g. side: {buy: 0, sell: 1}
