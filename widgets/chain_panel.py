"""Chain panel: connection, block, account and balances; pending transactions; transaction log; events."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from core.chain import ChainStatus, TxRecord, TxState
from widgets.cells import fit_columns, set_cell, set_row_count, setup_table
from widgets.palette import ALERT, EMERGENCY, STALE, TEXT, TEXT_DIM

TX_COLUMNS = ("State", "Command", "Nonce", "Transaction", "Block", "Gas", "Age", "Result")
EVENT_COLUMNS = ("Block", "Contract", "Event", "Arguments")
# Pending transactions are normal; only failures and an unreachable chain get colour.
_STATE_COLOURS = {TxState.FAILED: EMERGENCY, TxState.QUEUED: STALE}


def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    setup_table(t, columns, name)
    return t


def _fill(table: QTableWidget, rows: list[tuple[list[str], str]]) -> None:
    changed = set_row_count(table, len(rows))
    for r, (texts, colour) in enumerate(rows):
        for c, text in enumerate(texts):
            set_cell(table, r, c, text, colour if c in (0, len(texts) - 1) else TEXT)
    fit_columns(table, changed)


def _short(h: str | None) -> str:
    return "" if not h else f"{h[:10]}…{h[-6:]}"


def _amount(value: int | None, decimals: int) -> str:
    return "—" if value is None else f"{value / 10**decimals:,.2f}"


class ChainPanel(QWidget):
    """Shows one :class:`ChainStatus` at a time; knows nothing of how it was obtained."""

    def __init__(self, token_symbol: str = "ENC", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.token_symbol = token_symbol
        self.state_label = QLabel("—")
        self.state_label.setObjectName("chainState")
        self.block_label = QLabel("—")
        self.account_label = QLabel("—")
        self.account_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.balance_label = QLabel("—")
        self.queue_label = QLabel("—")
        facts = QGridLayout()
        for col, (caption, label) in enumerate((("CHAIN", self.state_label), ("BLOCK", self.block_label),
                                                ("OPERATOR ACCOUNT", self.account_label),
                                                ("BALANCES", self.balance_label), ("QUEUE", self.queue_label))):
            cap = QLabel(caption)
            cap.setStyleSheet(f"color: {TEXT_DIM}; font-size: 8pt;")
            label.setStyleSheet("font-size: 12pt;")
            facts.addWidget(cap, 0, col)
            facts.addWidget(label, 1, col)
        self.pending = _table(TX_COLUMNS, "pendingTable")
        self.log = _table(TX_COLUMNS, "txLogTable")
        self.events = _table(EVENT_COLUMNS, "eventTable")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(facts)
        for title, table, stretch in (("Pending transactions", self.pending, 2), ("Transaction log", self.log, 3),
                                      ("Contract events", self.events, 3)):
            box = QGroupBox(title)
            inner = QVBoxLayout(box)
            inner.setContentsMargins(4, 4, 4, 4)
            inner.addWidget(table)
            layout.addWidget(box, stretch)

    def show_status(self, st: ChainStatus) -> None:
        if st.up:
            self.state_label.setText(f"● connected  {st.rpc}  (chain {st.chain_id})")
            self._colour(self.state_label, TEXT)
        else:
            self.state_label.setText(f"● DOWN  {st.error or st.rpc}")
            self._colour(self.state_label, EMERGENCY)
        self.block_label.setText("—" if st.block is None else f"{st.block:,}")
        self.account_label.setText(st.account)
        eth = "—" if st.eth_balance_wei is None else f"{st.eth_balance_wei / 1e18:,.3f} ETH"
        self.balance_label.setText(f"{_amount(st.token_balance, st.token_decimals)} {self.token_symbol}   {eth}")
        waiting = len(st.pending)
        self.queue_label.setText(f"{waiting} pending" + ("" if st.up or not waiting else " — sent when back"))
        self._colour(self.queue_label, ALERT if waiting and not st.up else TEXT)
        now = time.time()
        _fill(self.pending, [self._tx_row(r, now) for r in st.pending])
        _fill(self.log, [self._tx_row(r, now) for r in st.recent])
        _fill(self.events, [([f"{e.block:,}", e.contract, e.name, ", ".join(f"{k}={v}" for k, v in e.args)], TEXT)
                            for e in st.events])

    @staticmethod
    def _tx_row(r: TxRecord, now: float) -> tuple[list[str], str]:
        age = now - r.updated
        texts = [r.state.value, r.description, "" if r.nonce is None else str(r.nonce), _short(r.tx_hash),
                 "" if r.block is None else f"{r.block:,}", "" if r.gas_used is None else f"{r.gas_used:,}",
                 f"{age:.0f} s" if age < 120 else f"{age / 60:.0f} min", r.error or ("ok" if r.state.done else "")]
        return texts, _STATE_COLOURS.get(r.state, TEXT)

    @staticmethod
    def _colour(label: QLabel, colour: str) -> None:
        label.setStyleSheet(f"font-size: 12pt; color: {colour};" + (" font-weight: bold;" if colour != TEXT else ""))
