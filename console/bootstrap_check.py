"""Wires `energynet check-config` to the real profile loader.

Kept apart from :mod:`console.bootstrap` (which builds the running console): the
check needs only the Modbus profile parser, and :mod:`console.services.config_check`
may not import drivers itself.
"""

from __future__ import annotations

from console.config import Settings
from console.services.config_check import ConfigCheck, ProfileInvalid, ProfileSummary, check
from drivers.modbus.profile import ProfileError, load_profile


def profile_summary(path: str) -> ProfileSummary:
    """Load and validate the profile file at ``path`` (the config resolved it)."""
    try:
        profile = load_profile(path)
    except ProfileError as exc:
        raise ProfileInvalid(exc.problems) from exc
    return ProfileSummary(profile.name, tuple(p.id for p in profile.points), tuple(profile.poll_groups))


def check_config(settings: Settings) -> ConfigCheck:
    """Everything the console would load for ``settings``, checked."""
    return check(settings, profile_summary)
