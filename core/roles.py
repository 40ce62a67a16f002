"""What a device value means, independent of the vendor's point name.

A Modbus profile tags points with a ``role``; views, participant accounting and
plausibility checks find values by role, never by a point id, so a meter whose
power register is called ``P_total`` still shows its power.
"""

from __future__ import annotations

import enum


class Role(enum.Enum):
    """The meaning of a device value. Sign convention for power: + import/consumption at a meter,
    + production at a generator, + charging at a battery."""

    POWER = "power"  # active power of the device (W)
    ENERGY_IMPORT = "energy_import"  # counter of energy taken from the grid (meter) (Wh)
    ENERGY_EXPORT = "energy_export"  # counter of energy delivered (meter export, generator yield) (Wh)
    STATE_OF_CHARGE = "state_of_charge"  # battery state of charge (%)
    POWER_LIMIT = "power_limit"  # active power limit in % of rated power (writable on inverters)
    SERIAL = "serial"  # serial number (a change means the meter was swapped)
    CLOCK = "clock"  # the device's clock (skew check)

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text``; raises ValueError listing the known roles."""
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(r.value for r in cls)
            raise ValueError(f"{text!r} is not a role; use one of {known}") from None
