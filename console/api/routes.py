"""The participant API's routes: HTTP → market commands and reads; no market rule lives here.

Order of checks for an order: the body's shape (422), the participant (unknown 422, suspended 403), its rate
(429), its signature (malformed 422, another signer 401), the condition's text (422), then the book (422/409
with the book's reason as the rule). A request refused at any step changed nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.routing import APIRoute
from pydantic import ValidationError

from console.api.auth import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    ENCODINGS,
    SignatureMalformed,
    all_types,
    domain,
    order_message,
    recover_fast,
)
from console.api.participants import Directory, Participant
from console.api.problems import ApiProblem, only_own, responses
from console.api.ratelimit import RateLimiter
from console.api.schemas import Eip712Out, ExecuteIn, ModifyIn, OfferIn, OfferOut, OrderOut, OutcomeOut, TradeOut
from console.services.escrow import EscrowService, FundsUnknown
from console.services.market import (
    MarketService,
    MarketSuspended,
    MarketUnavailable,
    MarketUpdate,
    Outcome,
    ProductDepth,
    TradeView,
)
from console.services.settlement import NonceReused, SettlementUnavailable, SignedOrders
from core.market import (
    ConditionSyntaxError,
    GridGate,
    OrderKind,
    OrderSpec,
    OrderStatus,
    OrderView,
    PriceComponents,
    RejectReason,
    Side,
    TimeInForce,
    parse_condition,
)

# A book refusal → (HTTP status, request field, rule). The rule is the book's reason.
REFUSALS: dict[RejectReason, tuple[int, str]] = {
    RejectReason.DUPLICATE_ORDER_ID: (409, "nonce"),  # the same signed order again: a replay
    RejectReason.INVALID_PARTICIPANT: (422, "participant"),
    RejectReason.UNKNOWN_PRODUCT: (422, "product"),
    RejectReason.PRODUCT_NOT_OPEN: (422, "product"),
    RejectReason.PRODUCT_CLOSED: (422, "product"),
    RejectReason.INVALID_QUANTITY: (422, "quantity"),
    RejectReason.INVALID_PRICE: (422, "price"),
    RejectReason.INVALID_TIME_IN_FORCE: (422, "tif"),
    RejectReason.INVALID_VALIDITY: (422, "valid_from"),
    RejectReason.EXPIRED: (422, "valid_until"),
    RejectReason.GRID_STATE_UNKNOWN: (409, "grid"),
    RejectReason.GRID_NOT_HELPED: (422, "grid"),
    RejectReason.UNKNOWN_ORDER: (404, "order_id"),
    RejectReason.NOT_OWNER: (404, "order_id"),  # another participant's order: as if it did not exist
    RejectReason.ORDER_CLOSED: (409, "order_id"),
    RejectReason.NOT_MODIFIABLE: (409, "order_id"),
}


class Api:
    """What the routes need: the market, the participants, the rate limiter and the EIP-712 chain id."""

    def __init__(self, market: MarketService, participants: Directory, limiter: RateLimiter,
                 chain_id: int, contract: str | None = None, signed_orders: SignedOrders | None = None,
                 escrow: EscrowService | None = None) -> None:
        self.market, self.participants, self.limiter, self.chain_id = market, participants, limiter, chain_id
        # Buyers' escrow on chain, checked before a buy enters the book (None: not checked, off chain).
        self.escrow = escrow
        # One buy at a time per participant while escrow is checked: two concurrent buys must not both fit
        # in the same funds (the check and the submit are one step).
        self.buy_locks: dict[str, asyncio.Lock] = {}
        # The EIP-712 domain's verifying contract (OrderSettlement) and where signed orders are kept so their
        # matches can settle on chain (None: an off-chain market, nothing settles).
        self.contract, self.signed_orders = contract, signed_orders
        # Off chain no store checks nonces: the digests of executes taken here, so a signed execute replayed
        # under a new Idempotency-Key is refused rather than trading again (on chain it stays empty: the
        # settlement store's nonce check refuses the replay, and a set of every execute would grow forever).
        self.executed: set[str] = set()


def api_of(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


async def _api_dep(request: Request) -> Api:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hand-off per request that cost
    # more CPU than the rest of a signed order (0.7 ms of 1.9 ms measured in bench/api_orders_inproc.py)
    return api_of(request)


ApiDep = Annotated[Api, Depends(_api_dep)]


def _limit(api: Api, participant: str) -> None:
    wait = api.limiter.take(participant)
    if wait > 0:
        raise ApiProblem(429, None, "rate-limited",
                         f"participant {participant!r} is over its rate limit; retry in {wait:.2f} s",
                         headers={"Retry-After": RateLimiter.retry_after(wait)})


async def reader(request: Request, authorization: Annotated[str | None, Header()] = None) -> Participant:
    """The participant whose API token is in ``Authorization: Bearer …`` (for reads of its own data; async, so
    FastAPI does not hand it to a thread: it only looks up memory)."""
    api = api_of(request)
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiProblem(401, "header.Authorization", "token-missing", "send 'Authorization: Bearer <api token>'",
                         headers={"WWW-Authenticate": "Bearer"})
    participant = api.participants.by_token(token.strip())
    if participant is None:
        raise ApiProblem(401, "header.Authorization", "token-unknown", "this API token belongs to no participant",
                         headers={"WWW-Authenticate": "Bearer"})
    if participant.suspended:
        raise ApiProblem(403, "header.Authorization", "participant-suspended", _suspended(participant))
    _limit(api, participant.id)
    return participant


Reader = Annotated[Participant, Depends(reader)]


def _suspended(participant: Participant) -> str:
    why = f": {participant.suspended_reason}" if participant.suspended_reason else ""
    return f"participant {participant.id!r} is suspended{why}"


def _signer(api: Api, participant_id: str) -> Participant:
    participant = api.participants.get(participant_id)
    if participant is None:
        raise ApiProblem(422, "participant", "unknown-participant", f"no participant {participant_id!r} is registered")
    if participant.suspended:
        raise ApiProblem(403, "participant", "participant-suspended", _suspended(participant))
    _limit(api, participant.id)
    return participant


def _verify(api: Api, participant: Participant, primary: str, message: dict[str, Any], signature: str) -> str:
    """The digest of the signed message (the order id); the signer must be the participant's address."""
    try:
        signed = recover_fast(primary, message, api.chain_id, signature, api.contract)
    except SignatureMalformed as exc:
        raise ApiProblem(422, "signature", "signature-malformed", str(exc)) from exc
    except ValueError as exc:  # a value the typed data cannot hold (the schema's bounds should prevent it)
        raise ApiProblem(422, "body", "not-signable", f"the {primary} cannot be encoded as EIP-712: {exc}") from exc
    if signed.address != participant.address.lower():
        raise ApiProblem(401, "signature", "signature-mismatch",
                         f"the {primary} was not signed by {participant.id!r}'s registered key {participant.address}")
    return signed.digest


def _refused(outcome: Outcome) -> None:
    rejected = outcome.rejected
    if rejected is not None:
        status, field = REFUSALS.get(rejected.reason, (422, "body"))
        raise ApiProblem(status, field, rejected.reason.value, rejected.detail)


async def _check_escrow(api: Api, participant: Participant, quantity: int, price: int | None) -> None:
    """Refuses a buy its participant's escrow cannot cover (422), or whose escrow the chain cannot tell (503)."""
    assert api.escrow is not None
    try:
        short = await api.escrow.shortfall(participant.address, quantity, price,
                                           api.market.orders_of(participant.id, open_only=True))
    except FundsUnknown as exc:
        raise ApiProblem(503, None, "funds-unknown", str(exc)) from exc
    if short is not None:
        missing = short.reserved + short.needed - short.available
        priced = f"at {price}" if price is not None else f"at up to {api.escrow.max_price} (no limit given)"
        raise ApiProblem(422, "quantity", "insufficient-escrow",
                         f"a buy of {quantity} Wh {priced} escrows {short.needed} base units; open buys hold "
                         f"{short.reserved} of the {short.available} available (balance {short.balance}, "
                         f"allowance to Settlement {short.allowance}): {missing} short;"
                         " approve or deposit more, or lower "
                         "the quantity or price")


async def _run(coro: Any) -> Outcome:
    try:
        outcome: Outcome = await coro
    except MarketSuspended as exc:  # an operator halted trading: the reason, and that it is not the caller's fault
        raise ApiProblem(503, "product", "market-suspended", str(exc)) from exc
    except MarketUnavailable as exc:
        raise ApiProblem(503, None, "market-unavailable", str(exc)) from exc
    return outcome


def order_out(v: OrderView) -> OrderOut:
    return OrderOut(order_id=v.order_id, participant=v.participant, product=v.product, side=v.side.value,
                    price=v.price, status=v.status.value, submitted=v.submitted, filled=v.filled,
                    cancelled=v.cancelled, remaining=v.remaining)


def trade_out(t: TradeView, me: str | None = None) -> TradeOut:
    side: Literal["buy", "sell"] | None = None if me is None else ("buy" if t.buyer == me else "sell")
    return TradeOut(seq=t.seq, ts=t.ts, product=t.product, price=t.price, quantity=t.quantity, side=side,
                    buy_id=t.buy_id, sell_id=t.sell_id)


def outcome_out(outcome: Outcome, me: str) -> OutcomeOut:
    assert outcome.order is not None
    return OutcomeOut(order=order_out(outcome.order), trades=[trade_out(t, me) for t in outcome.trades],
                      events=[type(e).__name__ for e in outcome.events])


router = APIRouter(prefix="/api/v1")


async def offer(body: OfferIn, api: ApiDep) -> Response:
    """Submit a signed order; it matches at once where it can (201: accepted, with its trades)."""
    participant = _signer(api, body.participant)
    message = order_message(participant.address, body.model_dump())
    digest = _verify(api, participant, "Order", message, body.signature)
    condition = None
    if body.condition:
        try:
            condition = parse_condition(body.condition)
        except ConditionSyntaxError as exc:
            raise ApiProblem(422, "condition", "condition-syntax", str(exc)) from exc
    spec = OrderSpec(digest, participant.id, body.product, Side(body.side), body.quantity, body.price,
                     OrderKind(body.kind), TimeInForce(body.tif), body.valid_from, body.valid_until, condition,
                     GridGate(body.grid))
    if api.escrow is None or spec.side is not Side.BUY:
        out = await _submit_offer(api, participant, spec, message, body.signature)
    else:
        async with api.buy_locks.setdefault(participant.id, asyncio.Lock()):
            await _check_escrow(api, participant, spec.quantity, spec.price)
            out = await _submit_offer(api, participant, spec, message, body.signature)
    # Serialized here, once (FastAPI would validate the model again and encode it in Python).
    return Response(out.model_dump_json(), status_code=201, media_type="application/json")


class _SignedOrderRoute(APIRoute):
    """The hot route (hundreds of signed orders a second): a well-formed JSON body is validated by pydantic
    straight from its bytes and given to the endpoint, without FastAPI's generic request handling (its
    dependency solving, content-type parsing, JSON decoding in Python and response model pass cost about as
    much as the order itself). Anything else (another content type, a body that fails validation) goes
    through FastAPI's own handler, so every refusal is exactly the one FastAPI gives; the OpenAPI document is
    FastAPI's, from the endpoint's signature."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()

        async def handler(request: Request) -> Response:
            kind = (request.headers.get("content-type") or "").partition(";")[0].strip().lower()
            if kind == "application/json":
                try:
                    body = OfferIn.model_validate_json(await request.body())
                except ValidationError:
                    pass  # FastAPI's handler names the field and rule (the body is cached in the request)
                else:
                    return await offer(body, api_of(request))
            return await standard(request)

        return handler


router.add_api_route("/trades/offer", offer, methods=["POST"], status_code=201, response_model=OutcomeOut,
                     responses=responses(400, 401, 403, 409, 413, 422, 429, 503),
                     route_class_override=_SignedOrderRoute)


async def _submit_offer(api: Api, participant: Participant, spec: OrderSpec, message: dict[str, Any],
                        signature: str) -> OutcomeOut:
    digest = spec.order_id
    if api.signed_orders is not None:  # stored before the book can match it: every fill can be settled
        try:
            await api.signed_orders.remember(digest, message, signature)
        except NonceReused as exc:
            raise ApiProblem(409, "nonce", "nonce-reused", str(exc)) from exc
        except SettlementUnavailable as exc:
            raise ApiProblem(503, None, "settlement-unavailable", str(exc)) from exc
    outcome = await _run(api.market.submit(spec))
    if outcome.rejected is not None and api.signed_orders is not None and api.market.order(digest) is None:
        await api.signed_orders.forget(digest)  # refused, not in the book: nothing to settle, its nonce is free
    _refused(outcome)
    return outcome_out(outcome, participant.id)


@router.get("/domain", response_model=dict[str, str | int])
async def signing_domain(api: ApiDep) -> dict[str, str | int]:
    """The EIP-712 domain orders are signed in: name, version, chain id and, when orders settle on chain, the
    verifying contract (OrderSettlement)."""
    out: dict[str, str | int] = {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": api.chain_id}
    if api.contract is not None:
        out["verifyingContract"] = api.contract
    return out


@router.get("/trades/available", response_model=list[OfferOut], responses=responses(422))
async def available(api: ApiDep, product: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None) -> list[OfferOut]:
    """Resting orders anyone can trade against now (best first per product and side)."""
    return [OfferOut(order_id=v.order_id, product=v.product, side=v.side.value, price=v.price, remaining=v.remaining)
            for v in api.market.available(product)]


async def _submit_execute(api: Api, spec: OrderSpec, message: dict[str, Any], signature: str) -> Outcome:
    """Store the taker's signed order (so its trade settles on chain), then submit it; a refused one is
    forgotten again (its nonce is free)."""
    if api.signed_orders is not None:
        try:
            await api.signed_orders.remember(spec.order_id, message, signature)
        except NonceReused as exc:
            raise ApiProblem(409, "nonce", "nonce-reused", str(exc)) from exc
        except SettlementUnavailable as exc:
            raise ApiProblem(503, None, "settlement-unavailable", str(exc)) from exc
    outcome = await _run(api.market.submit(spec))
    if outcome.rejected is not None and api.signed_orders is not None and api.market.order(spec.order_id) is None:
        await api.signed_orders.forget(spec.order_id)
    return outcome


@router.put("/trades/execute", response_model=OutcomeOut,
            responses=responses(400, 401, 403, 404, 409, 413, 422, 429, 503))
async def execute(body: ExecuteIn, api: ApiDep,
                  idempotency_key: Annotated[str, Header(min_length=8, max_length=64,
                                                         pattern=r"^[A-Za-z0-9_.:\-]+$")]) -> OutcomeOut:
    """Take ``quantity`` Wh of a resting offer at its price or better (immediate-or-cancel), with a signed
    ``Order``: the offer's product, the other side, ``quantity``, ``price`` (the taker's limit), limit, IOC,
    ``nonce``. The same Idempotency-Key again answers with the first outcome and trades nothing more."""
    participant = _signer(api, body.participant)
    # The order id is derived from (participant, key): a repeat is the same order, even after a restart.
    order_id = "x:" + hashlib.sha256(f"{participant.id}\n{idempotency_key}".encode()).hexdigest()
    previous = await api.market.find_order(order_id)  # (the store's row once its product has closed)
    if previous is None:
        offer_view = api.market.order(body.offer_id)
        if offer_view is None or offer_view.status is not OrderStatus.RESTING or offer_view.price is None:
            raise ApiProblem(404, "offer_id", "offer-not-available",
                             f"no resting offer {body.offer_id!r} (filled, cancelled, closed or never offered)")
        side = Side.BUY if offer_view.side is Side.SELL else Side.SELL
        message = order_message(participant.address, {
            "product": offer_view.product, "side": side.value, "quantity": body.quantity, "price": body.price,
            "kind": "limit", "tif": "ioc", "nonce": body.nonce})
        digest = _verify(api, participant, "Order", message, body.signature)
        if (body.price < offer_view.price) if side is Side.BUY else (body.price > offer_view.price):
            word = "below" if side is Side.BUY else "above"
            raise ApiProblem(422, "price", "price-not-crossing",
                             f"the signed limit {body.price} is {word} the offer's price {offer_view.price}: "
                             f"sign price = {offer_view.price} (or a limit that crosses it) to take this offer")
        if digest in api.executed:
            raise ApiProblem(409, "nonce", "nonce-reused", "this signed execute was taken already under another "
                             "Idempotency-Key; sign a new one (a new nonce)")
        # The book's limit is the offer's price (this offer at its price or better); the signed limit crosses
        # it, so the contract's price check holds for every fill.
        spec = OrderSpec(order_id, participant.id, offer_view.product, side, body.quantity, offer_view.price,
                         OrderKind.LIMIT, TimeInForce.IOC)
        if api.escrow is None or side is not Side.BUY:
            outcome = await _submit_execute(api, spec, message, body.signature)
        else:  # the funds check and the submit as one step per buyer, before anything is stored
            async with api.buy_locks.setdefault(participant.id, asyncio.Lock()):
                await _check_escrow(api, participant, spec.quantity, spec.price)
                outcome = await _submit_execute(api, spec, message, body.signature)
        _refused(outcome)
        if api.signed_orders is None:  # on chain the settlement store refuses the nonce again (nonce-reused)
            api.executed.add(digest)
        return outcome_out(outcome, participant.id)
    _verify(api, participant, "Order", order_message(participant.address, {
        "product": previous.product, "side": previous.side.value, "quantity": body.quantity, "price": body.price,
        "kind": "limit", "tif": "ioc", "nonce": body.nonce}), body.signature)  # a repeat is signed too
    if previous.submitted != body.quantity:  # (an IOC order is never modified: submitted is its signed quantity)
        raise ApiProblem(409, "header.Idempotency-Key", "idempotency-key-reused",
                         "this Idempotency-Key was used for another request (a different quantity)")
    trades = await api.market.trades_of_order(order_id, participant.id)
    return OutcomeOut(order=order_out(previous), trades=[trade_out(t, participant.id) for t in trades],
                      events=[])


@router.get("/trades/history", response_model=list[TradeOut], responses=responses(401, 403, 422, 429))
async def history(me: Reader, api: ApiDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  participant: Annotated[str | None, Query(description="whose trades: your own id, or omit; "
                                                            "another participant's is 403")] = None) -> list[TradeOut]:
    """The caller's trades, newest first."""
    only_own(me.id, participant)
    return [trade_out(t, me.id) for t in await api.market.trades_of(me.id, limit)]


@router.get("/orders", response_model=list[OrderOut], responses=responses(401, 403, 422, 429))
async def my_orders(me: Reader, api: ApiDep, open: bool = False) -> list[OrderOut]:
    """The caller's orders, oldest first (only open ones with ``open=true``)."""
    views = api.market.orders_of(me.id, open_only=True) if open else await api.market.order_history(me.id)
    return [order_out(v) for v in views]


@router.delete("/orders/{order_id}", response_model=OrderOut, responses=responses(401, 403, 404, 409, 429, 503))
async def cancel(order_id: str, me: Reader, api: ApiDep) -> OrderOut:
    """Cancel the caller's open order (its whole open quantity)."""
    outcome = await _run(api.market.cancel(order_id, me.id))
    _refused(outcome)
    assert outcome.order is not None
    return order_out(outcome.order)


@router.patch("/orders/{order_id}", response_model=OutcomeOut,
              responses=responses(400, 401, 403, 404, 409, 413, 422, 429, 503))
async def modify(order_id: str, body: ModifyIn, me: Reader, api: ApiDep) -> OutcomeOut:
    """Change the caller's open order: a new limit ``price`` and/or a new open ``quantity`` (Wh still to trade).
    A lower quantity at the same price keeps the order's time priority; a new price or a higher quantity loses
    it (the order works again as if new, and may trade at once). The new terms stay within what the order's
    signature covers, so every trade remains one its participant signed: a buy's price at most, a sell's at
    least, the signed limit, and filled + open quantity at most the signed quantity. Beyond that, cancel and
    sign a new order."""
    signed = api.market.signed_order(order_id)
    view = api.market.order(order_id)
    if signed is not None and view is not None and signed.participant == me.id and view.status.is_open:
        # (another's or a closed order: the book's refusal names it)
        if body.price is not None and signed.price is not None:
            beyond = body.price > signed.price if signed.side is Side.BUY else body.price < signed.price
            if beyond:
                worse = "above" if signed.side is Side.BUY else "below"
                raise ApiProblem(422, "price", "beyond-signed-limit",
                                 f"price {body.price} is {worse} the signed limit {signed.price} of this "
                                 f"{signed.side.value} order; cancel it and sign a new order instead")
        if body.quantity is not None and body.quantity + view.filled > signed.quantity:
            raise ApiProblem(422, "quantity", "beyond-signed-quantity",
                             f"{body.quantity} Wh open + {view.filled} Wh filled exceeds the signed {signed.quantity}"
                             " Wh; cancel it and sign a new order instead")
    outcome = await _run(api.market.modify(order_id, me.id, body.price, body.quantity))
    _refused(outcome)
    return outcome_out(outcome, me.id)


@router.get("/eip712", response_model=Eip712Out)
async def eip712(api: ApiDep) -> Eip712Out:
    """The EIP-712 domain (this market's chain id) and struct types that offers and executes are signed with,
    and how the order's words are encoded as the struct's integers (docs/market.md "Signing an order")."""
    dom = domain(api.chain_id, api.contract)
    return Eip712Out(domain=dom, types=all_types(dom), encodings=ENCODINGS)


# -- the stream -----------------------------------------------------------------------------------------------

def depth_json(d: ProductDepth) -> dict[str, Any]:
    return {"product": d.product, "bids": [list(x) for x in d.bids], "asks": [list(x) for x in d.asks],
            "best_bid": d.best_bid, "best_ask": d.best_ask, "last_price": d.last_price, "volume_wh": d.volume_wh,
            "gate_closure_in_s": d.gate_closure_in_s}


def price_json(p: PriceComponents | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"ts": p.ts, "price": p.price, "base": p.base, "tou_ppm": p.tou_ppm, "peak_ppm": p.peak_ppm,
            "grid_ppm": p.grid_ppm, "floored": p.floored, "capped": p.capped}


def update_json(u: MarketUpdate) -> dict[str, Any]:
    return {"type": "update", "seq": u.seq, "trades": [trade_out(t).model_dump() for t in u.trades],
            "books": [depth_json(b) for b in u.books], "price": price_json(u.reference)}


@router.websocket("/stream")
async def stream(ws: WebSocket) -> None:
    """Book, trades and prices: first a snapshot, then one message per journaled decision."""
    api: Api = ws.app.state.api
    await ws.accept()
    sub = api.market.subscribe()
    closed: asyncio.Future[Any] | None = None
    try:
        snap = api.market.snapshot()
        await ws.send_json({"type": "snapshot", "seq": snap.seq, "books": [depth_json(d) for d in snap.products],
                            "trades": [trade_out(t).model_dump() for t in snap.recent_trades],
                            "price": price_json(snap.reference)})
        closed = asyncio.ensure_future(ws.receive())  # a client that goes away ends the stream
        while True:
            nxt = asyncio.ensure_future(sub.next())
            done, _ = await asyncio.wait({nxt, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                nxt.cancel()
                return
            update = nxt.result()
            if update is None:  # the service stopped, or this reader lagged
                await ws.close(code=1013 if sub.lagged else 1001)
                return
            await ws.send_json(update_json(update))
    except WebSocketDisconnect:
        return
    finally:
        sub.close()
        if closed is not None:
            closed.cancel()
