"""OPC-UA node ids in the config: namespace by URI (nsu=) or by index (ns=)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import ConfigError, parse

pytestmark = pytest.mark.unit

BASE = """
[[sources]]
name = "sub"
endpoint = "opc.tcp://127.0.0.1:4840/x"
  [[sources.points]]
  id = "f"
  node = "NODE"
  unit = "Hz"
  kind = "frequency"
"""


@pytest.mark.parametrize("node", [
    "nsu=urn:acme:substation;i=5001",
    "nsu=urn:acme:substation;s=Bay1.Frequency",
    "nsu=http://acme.example/UA/Substation/;s=Bay 1.F",
    "nsu=urn:acme:substation;g=09087e75-8e5e-499b-954f-f2a9603db28a",
    "nsu=urn:acme:substation;b=M/RbKBsRVkePCePcx24oRA==",
    "ns=2;s=Grid.Frequency",
    "i=2258",
])
def test_node_ids_accepted(node: str) -> None:
    settings = parse(BASE.replace("NODE", node), Path("a.toml"))
    assert settings.sources[0].points[0].node_id == node


@pytest.mark.parametrize("node", ["nsu=;i=5001", "nsu=urn:acme;x=1", "nsu=urn:acme:substation", "nsu=urn a;i=1"])
def test_bad_nsu_node_id_is_refused_with_examples(node: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse(BASE.replace("NODE", node), Path("a.toml"))
    msg = str(exc.value)
    assert "a.toml: sources[0 'sub'].points[0 'f'].node" in msg
    assert (f"{node!r} is not an OPC-UA node id; write it like 'nsu=urn:acme:substation;i=5001' or "
            "'nsu=urn:acme:substation;s=Bay1.Frequency' (namespace by URI, recommended), "
            "or 'ns=2;s=Grid.Frequency' (namespace by index)") in msg
