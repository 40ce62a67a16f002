"""schemathesis against the running API: whatever it sends, no 5xx, and every response matches the schema."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.api.conftest import Market

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_no_server_error_and_every_response_matches_the_schema(market: Market, tmp_path: Path) -> None:
    m = market
    # Something to find: a resting offer, so reads and cancels have data to return.
    await m.client.post("/api/v1/trades/offer", json=m.traders["alice"].order())
    cli = Path(sys.executable).parent / "schemathesis"
    proc = await asyncio.create_subprocess_exec(
        str(cli), "run", f"{m.url}/api/v1/openapi.json",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                    "response_headers_conformance,response_schema_conformance",
        "--max-examples", "15", "--seed", "1", "--no-color", "--request-timeout", "10",
        "--phases", "examples,coverage,fuzzing",
        "-H", f"Authorization: Bearer {m.traders['bob'].token}",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=100)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
