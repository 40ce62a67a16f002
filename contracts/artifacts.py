"""Compiled contract artifacts (ABI + bytecode) committed in contracts/artifacts/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ARTIFACT_DIR = Path(__file__).with_name("artifacts")


class ArtifactError(RuntimeError):
    """An artifact is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    compiler: str
    source_sha256: str


@cache
def load(name: str) -> Artifact:
    """The artifact of contract `name` (e.g. "EnergyTrade")."""
    path = ARTIFACT_DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path}: no artifact for contract {name!r}; run `make contracts`") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc}); run `make contracts`") from exc
    return Artifact(name, data["abi"], data["bytecode"], data["compiler"]["version"], data["sourceSha256"])


def all_abis() -> dict[str, list[dict[str, Any]]]:
    """ABI of every artifact, by contract name (used to decode errors and events from any contract)."""
    return {p.stem: load(p.stem).abi for p in sorted(ARTIFACT_DIR.glob("*.json"))}
