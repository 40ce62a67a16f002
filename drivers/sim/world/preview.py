"""The system frequency from the first second, while the world is still being built.

Building a world takes seconds of CPU (importing pandapower and pvlib, the network, the first load flow),
but the first thing a console waits for is the frequency. Interconnected (the breaker is closed at the
start), the community's frequency is the interconnection's, and that model needs neither the network nor
the households: :class:`FrequencyPreview` steps the same :class:`Interconnection`, from the same seed's
random stream, in the same 10 ms sub-steps, so its frequency at tick k is exactly the world's at tick k
(tested). The runner publishes it until the world is built, then the world catches up to the wall clock
and takes over without a step in the curve. This module imports numpy only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from drivers.sim.world.frequency import SUBSTEP_S, Interconnection, InterconnectionConfig, world_rngs

FEEDERS = 10  # the benchmark net's feeders (drivers.sim.world.network checks it): OPC-UA nodes before the net


class FrequencyPreview:
    """The interconnection of a world with ``seed``, stepped tick by tick like the world steps it."""

    def __init__(self, seed: int, config: InterconnectionConfig, start: datetime, tick_s: float = 1.0) -> None:
        self.interconnection = Interconnection(config, world_rngs(seed)[3])
        self.start = start
        self.tick_s = tick_s
        self.ticks = 0
        self.trace: tuple[float, ...] = (self.interconnection.frequency_hz,)

    @property
    def time(self) -> datetime:
        return self.start + timedelta(seconds=self.ticks * self.tick_s)

    @property
    def frequency_hz(self) -> float:
        return self.interconnection.frequency_hz

    @property
    def rocof_hz_s(self) -> float:
        return self.interconnection.rocof_hz_s

    def step(self) -> None:
        """One tick, as ``World._integrate_frequency`` does it with the breaker closed."""
        h = self.tick_s
        steps = max(1, round(h / SUBSTEP_S))
        sub = h / steps
        t0 = (self.ticks + 1) * h - h
        self.trace = tuple(self.interconnection.run(t0, sub, steps))
        self.ticks += 1
