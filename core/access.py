"""Who may do what: the console's roles, its actions, and the one table between them (pure).

Every way in (the window, the API, the CLI) reaches the same services, and each service asks
:func:`require` before it acts, so a role is held to the same rule whichever way it comes in.
The table is rendered in docs/security.md (``roles_table_markdown``); a test keeps the two equal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class Role(enum.Enum):
    """A console user's role."""

    OPERATOR = "operator"  # runs the grid: setpoints, limits, demand response, alarms
    ANALYST = "analyst"  # reads and exports; changes nothing
    ENGINEER = "engineer"  # commissions devices: raw register writes, configuration
    ADMIN = "admin"  # everything, and manages users and participants

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text``; raises ValueError listing the roles."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"{text!r} is not a role; use one of {', '.join(r.value for r in cls)}") from None


class Action(enum.Enum):
    """What a user can ask the console to do (the audit log's action names for refusals)."""

    DEVICE_SETPOINT = "device.setpoint"
    POWER_LIMIT = "device.power_limit"
    REGISTER_WRITE = "device.register_write"
    DR_REQUEST = "chain.dr_request"
    GRID_STATUS = "chain.grid_status"  # an operator's demand/supply figure published on chain (PUT /grid/demand)
    CHAIN_RESEND = "chain.resend"
    CHAIN_DISCARD = "chain.discard"
    ALARM_ACK = "alarm.ack"
    ALARM_SHELVE = "alarm.shelve"
    ALARM_SILENCE = "alarm.silence"
    MARKET_SUSPEND = "market.suspend"
    LOAD_SHED = "grid.load_shed"  # the emergency panel: shed the next UFLS stage by hand, restore, reconnect
    ORDER_FOR_OTHERS = "market.order_for_others"  # not in the console yet; decided here so the API inherits it
    REPORT_EXPORT = "report.export"
    USER_ADMIN = "admin.users_participants"
    CONFIG_CHANGE = "config.change"


_O, _A, _E, _D = Role.OPERATOR, Role.ANALYST, Role.ENGINEER, Role.ADMIN

# THE table. Why: operators act on the grid in real time; a raw register write bypasses the profile's
# engineering meaning, so it is for engineers commissioning a device; analysts only read; user and
# participant administration (who may act at all) is for admins only.
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.DEVICE_SETPOINT: frozenset({_O, _E, _D}),
    Action.POWER_LIMIT: frozenset({_O, _E, _D}),
    Action.REGISTER_WRITE: frozenset({_E, _D}),
    Action.DR_REQUEST: frozenset({_O, _D}),
    Action.GRID_STATUS: frozenset({_O, _D}),
    Action.CHAIN_RESEND: frozenset({_O, _D}),
    Action.CHAIN_DISCARD: frozenset({_O, _D}),
    Action.ALARM_ACK: frozenset({_O, _E, _D}),
    Action.ALARM_SHELVE: frozenset({_O, _E, _D}),
    Action.ALARM_SILENCE: frozenset({_O, _E, _D}),
    Action.MARKET_SUSPEND: frozenset({_O, _D}),
    Action.LOAD_SHED: frozenset({_O, _D}),
    Action.ORDER_FOR_OTHERS: frozenset({_D}),
    Action.REPORT_EXPORT: frozenset({_O, _A, _E, _D}),
    Action.USER_ADMIN: frozenset({_D}),
    Action.CONFIG_CHANGE: frozenset({_E, _D}),
}


@dataclass(frozen=True, slots=True)
class User:
    """The acting user: a name (as audited) and a role."""

    name: str
    role: Role


class PermissionDenied(Exception):
    """A user asked for an action their role may not do; the message names who, what and who may."""

    def __init__(self, user: User, action: Action) -> None:
        self.user = user
        self.action = action
        super().__init__(
            f"{user.name} ({user.role.value}) may not do {action.value}; "
            f"allowed for: {', '.join(allowed_roles(action))}")


def allowed_roles(action: Action) -> list[str]:
    """The roles that may do ``action``, in the order of :class:`Role`."""
    return [r.value for r in Role if r in PERMISSIONS[action]]


def may(user: User, action: Action) -> bool:
    return user.role in PERMISSIONS[action]


def require(user: User, action: Action) -> None:
    """Return when ``user`` may do ``action``; raise :class:`PermissionDenied` otherwise."""
    if user.role not in PERMISSIONS[action]:
        raise PermissionDenied(user, action)


def roles_table_markdown() -> str:
    """The permission table as Markdown (docs/security.md carries this text verbatim)."""
    head = "| action | " + " | ".join(r.value for r in Role) + " |"
    rule = "|---|" + "---|" * len(Role)
    rows = ["| `" + a.value + "` | " + " | ".join("yes" if r in PERMISSIONS[a] else "—" for r in Role) + " |"
            for a in Action]
    return "\n".join([head, rule, *rows])


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Login throttling and the idle lock. After the n-th failed login in a row the next attempt is
    refused for ``base_delay_s * 2**(n-1)`` seconds (capped at ``max_delay_s``); after ``lock_after``
    failures the account is locked until an admin unlocks it."""

    base_delay_s: float = 1.0
    max_delay_s: float = 300.0
    lock_after: int = 5
    idle_lock_s: float = 900.0  # the window locks after this long without input (the login dialog asks again)

    def delay_after(self, failures: int) -> float:
        """How long after the last failure the next attempt must wait."""
        if failures <= 0:
            return 0.0
        return float(min(self.base_delay_s * 2 ** (failures - 1), self.max_delay_s))


class AuditWriter(Protocol):
    """Where audit entries go (the historian's chained audit log). Blocking: call it from a worker thread."""

    def record_audit(self, ts: float, user: str, action: str, target: str, old: str | None, new: str | None,
                     result: str) -> None: ...
