"""Capped exponential backoff with jitter, shared by all field drivers."""

from __future__ import annotations

import random


class Backoff:
    """Delays for successive reconnect attempts.

    Each failure doubles the delay up to ``max_s``; the actual wait is drawn
    uniformly from [delay/2, delay] ("equal jitter") so that many consoles
    that lost the same server do not all come back in the same instant.
    """

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError(f"backoff needs 0 < min_s <= max_s, got {min_s}, {max_s}")
        self.min_s = min_s
        self.max_s = max_s
        self._rng = rng or random.Random()
        self._delay = min_s

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; grows on each call."""
        delay = self._delay
        self._delay = min(self._delay * 2, self.max_s)
        return self._rng.uniform(delay / 2, delay)

    def reset(self) -> None:
        """Call after a success: the next failure starts small again."""
        self._delay = self.min_s
