"""asyncua's "Publish iteration crashed" on a closed connection is a disconnect, not a crash, in the log."""

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
