"""Chain panel: connection, block, account and balances; pending transactions; transaction log; events."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from core.chain import ChainState, ChainStatus, TxRecord, TxState
from core.chain_text import EventText, local_time
from widgets import palette
from widgets.cells import fit_columns, set_cell, set_row_count, setup_table
from widgets.elided_label import ElidedLabel
from widgets.palette import CHAIN_STATES
from widgets.style import set_style_property

TX_COLUMNS = ("State", "Command", "Created", "Valid until", "Nonce", "Transaction", "Block", "Gas", "Age",
              "Result")
EVENT_COLUMNS = ("Block", "Contract", "Event", "Arguments")
# Pending transactions are normal; only failures and an unreachable chain get colour.
def _state_colour(state: TxState) -> str:  # looked up when drawn, so a theme switch is followed
    return {TxState.FAILED: palette.EMERGENCY, TxState.QUEUED: palette.STALE,
            TxState.EXPIRED: palette.ALERT}.get(state, palette.TEXT)

# The chain's state in the display states every source indicator uses (widgets/source_status.py):
# up = connected (normal), connecting (stale), down = disconnected (emergency), a different chain needs the
# operator (alert). The status bar shows the chain with this same map.
CHAIN_DISPLAY_STATE = CHAIN_STATES  # the one map (widgets/palette.py), also used by the status bar
def display_colour(display: str) -> str:
    return {"normal": palette.TEXT, "stale": palette.STALE, "alert": palette.ALERT,
            "emergency": palette.EMERGENCY}[display]


def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    setup_table(t, columns, name)
    return t


def _fill(table: QTableWidget, rows: list[tuple[list[str], str]]) -> None:
    changed = set_row_count(table, len(rows))
    for r, (texts, colour) in enumerate(rows):
        for c, text in enumerate(texts):
            set_cell(table, r, c, text, colour if c in (0, len(texts) - 1) else palette.TEXT)
    fit_columns(table, changed)


def _short(h: str | None) -> str:
    return "" if not h else f"{h[:10]}…{h[-6:]}"


def _amount(value: int | None, decimals: int) -> str:
    return "—" if value is None else f"{value / 10**decimals:,.2f}"


def age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def stale_mark(st: ChainStatus) -> str:
    """'' while the chain is up; else how old the block and balances on screen are."""
    if st.state is ChainState.UP:
        return ""
    if st.block_at is None:
        return "  (never read)"
    return f"  (stale, {age_text(max(0.0, (st.now or time.time()) - st.block_at))} old)"


class ChainPanel(QWidget):
    """Shows one :class:`ChainStatus` at a time; knows nothing of how it was obtained."""

    def __init__(self, token_symbol: str = "ENC", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.token_symbol = token_symbol
        self.pending_keys: list[str] = []
        # Cut with "…" where the column is too narrow (a DOWN state with its error, a stale balance), the whole
        # text in the tooltip: a plain QLabel cut "no answer from http://127.0.0.1:28545: C" mid-word.
        self.state_label = ElidedLabel("—")
        self.state_label.setObjectName("chainState")
        self.block_label = ElidedLabel("—")
        self.account_label = QLabel("—")
        self.account_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.balance_label = ElidedLabel("—")
        self.queue_label = ElidedLabel("—")
        facts = QGridLayout()
        for col, (caption, label) in enumerate((("CHAIN", self.state_label), ("BLOCK", self.block_label),
                                                ("OPERATOR ACCOUNT", self.account_label),
                                                ("BALANCES", self.balance_label), ("QUEUE", self.queue_label))):
            cap = QLabel(caption)
            cap.setStyleSheet(f"color: {palette.TEXT_DIM}; font-size: 8pt;")
            label.setStyleSheet("font-size: 12pt;")
            # A long error or URL must not widen the window: the label clips, its tooltip has the full text.
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            facts.addWidget(cap, 0, col)
            facts.addWidget(label, 1, col)
        for col, stretch in enumerate((5, 3, 2, 5, 2)):  # the widths the facts' texts need, proportionally
            facts.setColumnStretch(col, stretch)
        self.banner = QLabel("")
        self.banner.setObjectName("chainBanner")
        self.banner.setWordWrap(True)
        self.banner.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.banner.setStyleSheet(f"color: {palette.ALERT}; font-weight: bold; border: 2px solid {palette.ALERT}; "
                                  "padding: 4px;")
        self.banner.hide()
        self.pending = _table(TX_COLUMNS, "pendingTable")
        self.log = _table(TX_COLUMNS, "txLogTable")
        self.events = _table(EVENT_COLUMNS, "eventTable")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(facts)
        layout.addWidget(self.banner)
        for title, table, stretch in (("Pending transactions", self.pending, 2), ("Transaction log", self.log, 3),
                                      ("Contract events", self.events, 3)):
            box = QGroupBox(title)
            inner = QVBoxLayout(box)
            inner.setContentsMargins(4, 4, 4, 4)
            inner.addWidget(table)
            layout.addWidget(box, stretch)

    def show_status(self, st: ChainStatus) -> None:
        display = CHAIN_DISPLAY_STATE[st.state]
        if st.state is ChainState.UP:
            text = f"● connected  {st.rpc}  (chain {st.chain_id})"
        elif st.state is ChainState.CONNECTING:
            text = f"◌ connecting to {st.rpc}"
        elif st.state is ChainState.DOWN:
            text = f"✕ DOWN  {st.error or st.rpc}"
        else:
            text = "◐ DIFFERENT CHAIN"  # what differs: the banner; the address: the tooltip
        self.state_label.setText(text)
        # The tooltip: the whole text when it is cut, and the address (and the error, unless the text has it).
        self.state_label.set_detail(st.rpc if st.state is ChainState.DOWN or not st.error else
                                    f"{st.rpc}: {st.error}")
        set_style_property(self.state_label, "state", display)
        self._colour(self.state_label, display_colour(display))
        stale = stale_mark(st)
        self.block_label.setText(("—" if st.block is None else f"{st.block:,}") + stale)
        self.account_label.setText(_short(st.account) if len(st.account) > 20 else st.account)
        eth = "—" if st.eth_balance_wei is None else f"{st.eth_balance_wei / 1e18:,.3f} ETH"
        self.balance_label.setText(f"{_amount(st.token_balance, st.token_decimals)} {self.token_symbol}   {eth}"
                                   + stale)
        self.account_label.setToolTip(st.account)
        for label in (self.block_label, self.balance_label):
            set_style_property(label, "state", "stale" if stale else "normal")
            self._colour(label, palette.STALE if stale else palette.TEXT)
        waiting = len(st.pending)
        different = st.state is ChainState.DIFFERENT_CHAIN
        if different:
            self.queue_label.setText(f"{waiting} to decide")
        else:
            self.queue_label.setText(f"{waiting} pending" + ("" if st.up or not waiting else " — sent when back"))
        self._colour(self.queue_label, palette.ALERT if waiting and not st.up else palette.TEXT)
        self.banner.setVisible(different)
        if different:
            self.banner.setText(
                f"The node at {st.rpc} is not the chain these commands were made for: {st.error}. Nothing is "
                f"sent automatically. Choose for each of the {waiting} open command(s) below: resend on this "
                "chain, or discard.")
        now = st.now or time.time()
        self.pending_keys = [r.key for r in st.pending]
        _fill(self.pending, [self._tx_row(r, now) for r in st.pending])
        _fill(self.log, [self._tx_row(r, now) for r in st.recent])
        words = EventText(self.token_symbol, st.token_decimals)
        _fill(self.events, [([f"{e.block:,}", e.contract, e.name, words.args(e)], palette.TEXT) for e in st.events])

    def selected_pending_keys(self) -> list[str]:
        rows = sorted({i.row() for i in self.pending.selectedIndexes()})
        return [self.pending_keys[r] for r in rows if r < len(self.pending_keys)]

    @staticmethod
    def _tx_row(r: TxRecord, now: float) -> tuple[list[str], str]:
        texts = [r.state.value, r.description, local_time(r.created) if r.created else "",
                 "" if r.valid_until is None else local_time(r.valid_until),
                 "" if r.nonce is None else str(r.nonce), _short(r.tx_hash),
                 "" if r.block is None else f"{r.block:,}", "" if r.gas_used is None else f"{r.gas_used:,}",
                 age_text(max(0.0, now - r.updated)), r.error or ("ok" if r.state is TxState.CONFIRMED else "")]
        if (r.state is TxState.QUEUED and not r.error and r.valid_until is not None and now >= r.valid_until):
            # Not signed yet and its validity over: the gateway will never send it (it expires when next looked at,
            # or when the operator resends it to a reset chain); "queued" alone read as if it still might go.
            texts[-1] = "past its validity: will not be sent"
        return texts, _state_colour(r.state)

    @staticmethod
    def _colour(label: QLabel, colour: str) -> None:
        bold = " font-weight: bold;" if colour != palette.TEXT else ""
        label.setStyleSheet(f"font-size: 12pt; color: {colour};{bold}")
