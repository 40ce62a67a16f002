"""The islanding procedure's synchrocheck and next step (core/balancing/procedure.py), figures by hand."""

from __future__ import annotations

import math

from core.balancing.procedure import STEPS, Step, StepState, StepStatus, next_step, sync_check


def test_sync_check_differences_and_limits() -> None:
    # community 49.913 Hz against the system's 50.003 Hz: Δf = −0.090 Hz, within the relay's 0.2 Hz
    c = sync_check(49.913, 50.003)
    assert math.isclose(c.df_hz, -0.090, abs_tol=1e-9)
    assert c.in_limits
    assert c.text() == "Δf −0.090 Hz (≤ 0.2) · ΔV, Δφ not measured"
    # 49.790 against 50.000: 0.210 Hz apart, one step past the limit
    far = sync_check(49.790, 50.000)
    assert not far.in_limits and far.text() == "Δf −0.210 Hz (≤ 0.2) OUT · ΔV, Δφ not measured"
    # 0.19 Hz apart closes; "50.2 − 50.0" is 0.2000000000000028 in floats, past the limit for the world's
    # relay too (it refuses abs(f_sys − f_own) > 0.2): the console agrees with it
    assert sync_check(50.19, 50.0).in_limits and not sync_check(50.2, 50.0).in_limits
    # voltages measured: 236.9 V against 230.0 V is (6.9 / 230) = +3.0 % of nominal; 255.3 V is +11.0 %: out
    v = sync_check(50.0, 50.0, 236.9, 230.0)
    assert math.isclose(v.dv_pct, 3.0, abs_tol=1e-9) and v.in_limits
    assert v.text() == "Δf +0.000 Hz (≤ 0.2) · ΔV +3.0 % (≤ 10) · Δφ not measured"
    assert not sync_check(50.0, 50.0, 255.3, 230.0).in_limits
    # no frequency on either side: never in limits (the breaker is closed only on a measured Δf)
    assert not sync_check(math.nan, 50.0).in_limits
    assert sync_check(math.nan, 50.0).text() == "Δf, ΔV, Δφ not measured"


def test_the_next_step_is_the_first_pending() -> None:
    done = StepState(Step.MARKET, StepStatus.DONE, "op-1", 13.0, "trading suspended")
    na = StepState(Step.BATTERIES, StepStatus.NOT_APPLICABLE, detail="no battery takes setpoints here")
    pending = [StepState(s, StepStatus.PENDING) for s in (Step.SHED, Step.RECONNECT)]
    assert next_step((done, na, *pending)) is Step.SHED
    assert next_step((done, na, StepState(Step.SHED, StepStatus.DONE, "UFLS relays", 6.0), pending[1])) \
        is Step.RECONNECT
    assert next_step(tuple(StepState(s, StepStatus.DONE) for s in STEPS)) is None
    assert [s.title for s in STEPS] == ["Suspend market", "Dispatch batteries", "Shed flexible load",
                                        "Reconnect when synchronised"]
