"""Contract events in an operator's words: engineering units, local time, enum names (no raw integers).

The suite's on-chain units (see core/units.py and the contracts' NatSpec): frequency mHz, voltage mV, power W,
energy Wh, prices token base units per kWh, times Unix seconds, durations seconds. An argument this module
does not know is shown as it came (never guessed)."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.chain import ChainEvent, ChainValue

# Solidity enums, in declaration order (GridBalance.AlertKind, AchievementNFT.Achievement).
ALERT_KINDS = ("FrequencyLow", "FrequencyHigh", "VoltageLow", "VoltageHigh")
ACHIEVEMENTS = ("FirstTrade", "GreenExporter1MWh", "DemandResponder", "GridGuardian", "Prosumer")

_HZ = ("frequencyMhz", "frequencyMinMhz", "frequencyMaxMhz")
_VOLT = ("voltageMv", "voltageMinMv", "voltageMaxMv")
_POWER = ("demandW", "supplyW", "reductionW")
_ENERGY = ("importWh", "exportWh", "energyWh", "deliveredWh", "verifiedWh", "meteredImportWh", "amount", "remaining",
           "unfilled")
_TOKENS = ("compensation", "value", "sellerAmount", "fee", "buyerRefund")
_TIMES = ("start", "end", "timestamp", "expiresAt", "deliveryEnd")
_DURATIONS = ("deliveryWindow", "disputeWindow")


def local_time(ts: int | float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def hz(mhz: int) -> str:
    return f"{mhz / 1000:.3f} Hz"


def volt(mv: int) -> str:
    return f"{mv / 1000:,.1f} V"


def kw(w: int) -> str:
    return f"{w / 1000:,.1f} kW"


def kwh(wh: int) -> str:
    return f"{wh / 1000:,.3f} kWh"


def tokens(units: int, decimals: int, symbol: str) -> str:
    """Two decimals, as money reads; an amount that two decimals would show as 0.00 in all its decimals (32 base
    units of a 6-decimal token: 0.000032 ENC, not 0.00 ENC)."""
    amount = units / 10**decimals
    if units and abs(amount) < 0.01:
        return f"{amount:.{decimals}f}".rstrip("0") + f" {symbol}"
    return f"{amount:,.2f} {symbol}"


def duration(s: int) -> str:
    return f"{s / 60:.0f} min" if s % 60 == 0 and s >= 60 else f"{s} s"


def short(text: str) -> str:
    """An address, hash or id as 0x1234…cdef (the table shows the full text in the row's tooltip)."""
    return text if len(text) <= 14 else f"{text[:6]}…{text[-4:]}"


def _enum(names: tuple[str, ...], v: int) -> str:
    return names[v] if 0 <= v < len(names) else f"unknown ({v})"


class EventText:
    """Formats the events of the suite for one settlement token (symbol and decimals)."""

    def __init__(self, token_symbol: str = "ENC", token_decimals: int = 6) -> None:
        self.symbol = token_symbol
        self.decimals = token_decimals

    def args(self, e: ChainEvent) -> str:
        return ", ".join(f"{k} {self.value(e, k, v)}" for k, v in e.args)

    def value(self, e: ChainEvent, name: str, v: ChainValue) -> str:
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, str):
            return short(v)
        if isinstance(v, tuple):
            return "(" + ", ".join(self.value(e, name, x) for x in v) + ")"
        fmt = self._format(e, name)
        return str(v) if fmt is None else fmt(v)

    def _format(self, e: ChainEvent, name: str) -> Callable[[int], str] | None:
        if e.name == "GridAlert":
            if name == "kind":
                return lambda v: _enum(ALERT_KINDS, v)
            if name in ("value", "limit"):
                kind = e.arg("kind")
                return hz if isinstance(kind, int) and kind in (0, 1) else volt
        if e.name == "AchievementAwarded" and name == "kind":
            return lambda v: _enum(ACHIEVEMENTS, v)
        if e.name in ("OfferCreated", "OrderSettled") and name == "price":
            return lambda v: tokens(v, self.decimals, self.symbol) + "/kWh"
        if e.name == "OrderSettled" and name == "quantity":  # Wh (OrderSettlement.Match.quantity)
            return kwh
        if name == "feeBps":
            return lambda v: f"{v / 100:.2f} %"
        for names, fmt in ((_HZ, hz), (_VOLT, volt), (_POWER, kw), (_ENERGY, kwh), (_TIMES, local_time),
                           (_DURATIONS, duration)):
            if name in names:
                return fmt
        if name in _TOKENS:
            return lambda v: tokens(v, self.decimals, self.symbol)
        return None
