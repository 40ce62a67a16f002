"""Library log lines the drivers report better themselves: a disconnect is not a crash, a timeout names its device."""

from __future__ import annotations

import logging

import pytest

import drivers.opcua.session  # noqa: F401  (installs the filter on asyncua's session logger)

ASYNCUA = logging.getLogger("asyncua.client.ua_session.UaSession")  # the logger UaSession logs on


def _publish_crash(exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:
        ASYNCUA.exception("Publish iteration crashed; retrying in 1s")


def test_a_lost_connection_is_not_logged_as_an_error_with_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        _publish_crash(ConnectionError("client is disconnected"))
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


def test_another_publish_failure_keeps_its_error_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        _publish_crash(ValueError("bad notification"))
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None


def test_pymodbus_lines_the_hub_reports_itself_become_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    import drivers.modbus.hub  # noqa: F401  (installs the filter on pymodbus's logger)

    pymodbus = logging.getLogger("pymodbus.logging")  # the one logger pymodbus/logging.py logs on
    with caplog.at_level(logging.INFO):
        pymodbus.error("No response received after 0 retries, continue with next request")
        pymodbus.warning("Failed to connect [Errno 111] Connect call failed ('127.0.0.1', 5020)")
        pymodbus.error("Unable to decode frame")  # not one the hub reports: kept
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO] == [
        ("ERROR", "Unable to decode frame")]
