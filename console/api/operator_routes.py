"""Operator-only endpoints: ``POST /api/v1/grid/balance`` (a demand-response / balancing request on chain)
and ``PUT /api/v1/grid/demand`` (publish the grid status with the operator's demand figure).

Credentials: a console user's name and password (``Authorization: Basic``), checked by the user service —
argon2, throttled, locked after repeated failures, every login audited — and then the same permission
check as in the window (``chain.dr_request``, ``chain.grid_status``: operators and admins), also audited.
A participant's API token is refused with 403: it is not an operator credential. No rule lives here: the
routes translate HTTP to the chain service's commands and its answers back.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from pydantic import BaseModel, Field

from console.api.participants import Directory
from console.api.problems import ApiProblem, responses
from console.services.chain import ChainService
from console.services.users import LoginRefused, UserService
from core.access import PermissionDenied, User


@dataclass
class OperatorApi:
    users: UserService
    chain: ChainService | None


def install(app: FastAPI, users: UserService, chain: ChainService | None) -> None:
    """Serve the operator routes on ``app`` with the users and the chain they need (the composition root
    calls this when the console has a user database; without one the routes do not exist)."""
    app.state.operator = OperatorApi(users, chain)
    app.include_router(router)


class BalanceIn(BaseModel):
    reduction_w: Annotated[float, Field(gt=0, le=1e9, description="load reduction asked for, W")]
    duration_s: Annotated[float, Field(ge=60, le=86_400, description="how long, s")]
    compensation: Annotated[int, Field(gt=0, lt=2**96, description="settlement-token base units")]


class DemandIn(BaseModel):
    demand_w: Annotated[float, Field(ge=0, le=1e10)]
    supply_w: Annotated[float, Field(ge=0, le=1e10)]


class CommandOut(BaseModel):
    key: str  # the chain command's key: GET /api/v1/grid/commands/{key} follows it
    state: str
    by: str


class CommandStateOut(BaseModel):
    key: str
    state: str
    tx_hash: str | None
    block: int | None
    error: str | None


async def operator(request: Request, authorization: Annotated[str | None, Header()] = None) -> User:
    """The console user in ``Authorization: Basic``; 401 without or with wrong credentials, 403 for a
    participant's token."""
    op: OperatorApi = request.app.state.operator
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer":
        directory: Directory = request.app.state.api.participants
        who = directory.by_token(value.strip())
        raise ApiProblem(403, "header.Authorization", "operator-credentials-required",
                         f"participant token{' of ' + repr(who.id) if who else ''} is not an operator credential: "
                         "these endpoints take a console operator's user name and password (Basic)")
    if scheme.lower() != "basic" or not value:
        raise ApiProblem(401, "header.Authorization", "credentials-missing",
                         "send 'Authorization: Basic <base64 user:password>' of a console operator",
                         headers={"WWW-Authenticate": 'Basic realm="energynet operator"'})
    try:
        name, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        name, sep, password = "", "", ""
    if not sep or not name:
        raise ApiProblem(401, "header.Authorization", "credentials-malformed", "Basic credentials are base64 of "
                         "'user:password'", headers={"WWW-Authenticate": 'Basic realm="energynet operator"'})
    try:
        return await op.users.authenticate(name, password, where="api")
    except LoginRefused as exc:
        raise ApiProblem(401, "header.Authorization", "login-refused", str(exc),
                         headers={"WWW-Authenticate": 'Basic realm="energynet operator"'}) from exc


Operator = Annotated[User, Depends(operator)]


def _chain(request: Request) -> ChainService:
    op: OperatorApi = request.app.state.operator
    if op.chain is None:
        raise ApiProblem(503, None, "chain-off", "the chain is off in this console: nothing can be sent")
    return op.chain


router = APIRouter(prefix="/api/v1/grid")


@router.post("/balance", status_code=202, response_model=CommandOut, responses=responses(401, 403, 422, 503))
async def balance(body: BalanceIn, user: Operator, request: Request) -> CommandOut:
    """Ask the community for a load reduction (GridBalance.requestDemandResponse); 202 with the command key."""
    chain = _chain(request)
    try:
        key = await chain.request_demand_response(body.reduction_w, body.duration_s, body.compensation, by=user)
    except PermissionDenied as exc:
        raise ApiProblem(403, None, "permission-denied", str(exc)) from exc
    except ValueError as exc:
        raise ApiProblem(422, "body", "not-sendable", str(exc)) from exc
    rec = chain.record(key)
    return CommandOut(key=key, state=rec.state.value if rec else "queued", by=user.name)


@router.put("/demand", status_code=202, response_model=CommandOut, responses=responses(401, 403, 409, 422, 503))
async def demand(body: DemandIn, user: Operator, request: Request) -> CommandOut:
    """Publish the grid status now with this demand and supply (GridBalance.updateStatus)."""
    chain = _chain(request)
    try:
        key = await chain.publish_demand(body.demand_w, body.supply_w, by=user)
    except PermissionDenied as exc:
        raise ApiProblem(403, None, "permission-denied", str(exc)) from exc
    except ValueError as exc:
        raise ApiProblem(409, None, "grid-state-unknown", str(exc)) from exc
    rec = chain.record(key)
    return CommandOut(key=key, state=rec.state.value if rec else "queued", by=user.name)


@router.get("/commands/{key}", response_model=CommandStateOut, responses=responses(401, 403, 404, 503))
async def command(key: str, user: Operator, request: Request) -> CommandStateOut:
    """Where an operator command stands on chain."""
    rec = _chain(request).record(key)
    if rec is None:
        raise ApiProblem(404, "key", "unknown-command", f"no chain command {key!r}")
    return CommandStateOut(key=key, state=rec.state.value, tx_hash=rec.tx_hash, block=rec.block, error=rec.error)
