"""AchievementNFT on a real anvil: minted once per milestone, on-chain metadata, never transferable."""

from __future__ import annotations

import base64
import json

import pytest

from contracts.roles import MINTER
from tests.contracts.conftest import ADMIN, ALICE, BOB, Suite

pytestmark = pytest.mark.contracts
FIRST_TRADE, GREEN_EXPORTER = 0, 1


def mint(chain: Suite, who: str = ALICE, kind: int = FIRST_TRADE) -> int:
    receipt = chain.send(chain.nft.functions.mint(who, kind))
    ev = chain.events(chain.nft, "AchievementAwarded", receipt)[0].args
    assert (ev.holder, ev.kind) == (who, kind)
    return int(ev.tokenId)


def test_minted_badge_carries_json_metadata(chain: Suite) -> None:
    token = mint(chain, kind=GREEN_EXPORTER)
    uri = chain.nft.functions.tokenURI(token).call()
    assert uri.startswith("data:application/json;base64,")
    meta = json.loads(base64.b64decode(uri.split(",", 1)[1]))
    assert meta["name"] == f"Green Exporter #{token}"
    assert "1 MWh" in meta["description"]
    assert {a["trait_type"] for a in meta["attributes"]} == {"achievement", "awarded"}
    assert chain.nft.functions.ownerOf(token).call() == ALICE
    assert chain.nft.functions.awarded(ALICE, GREEN_EXPORTER).call() == token
    assert chain.nft.functions.supportsInterface(bytes.fromhex("80ac58cd")).call()  # ERC-721
    assert chain.nft.functions.supportsInterface(bytes.fromhex("5b5e139f")).call()  # ERC-721 metadata
    assert not chain.nft.functions.supportsInterface(bytes.fromhex("ffffffff")).call()


def test_badges_cannot_move(chain: Suite) -> None:
    token = mint(chain)
    args = chain.reverts(chain.nft.functions.transferFrom(ALICE, BOB, token), "Soulbound", ALICE)
    assert args["tokenId"] == token
    chain.reverts(chain.nft.functions.safeTransferFrom(ALICE, BOB, token), "Soulbound", ALICE)
    chain.reverts(chain.nft.functions.safeTransferFrom(ALICE, BOB, token, b"gift"), "Soulbound", ALICE)
    chain.reverts(chain.nft.functions.approve(BOB, token), "ApprovalsDisabled", ALICE)
    chain.reverts(chain.nft.functions.setApprovalForAll(BOB, True), "ApprovalsDisabled", ALICE)
    assert chain.nft.functions.balanceOf(ALICE).call() == 1
    assert chain.nft.functions.balanceOf(BOB).call() == 0
    assert chain.nft.functions.ownerOf(token).call() == ALICE


def test_each_milestone_once_and_only_by_a_minter(chain: Suite) -> None:
    token = mint(chain)
    args = chain.reverts(chain.nft.functions.mint(ALICE, FIRST_TRADE), "AlreadyAwarded")
    assert args["tokenId"] == token
    mint(chain, BOB)  # the same milestone for someone else is fine
    args = chain.reverts(chain.nft.functions.mint(BOB, GREEN_EXPORTER), "AccessControlUnauthorizedAccount", BOB)
    assert args["neededRole"] == MINTER
    chain.send(chain.nft.functions.pause(), ADMIN)
    chain.reverts(chain.nft.functions.mint(BOB, GREEN_EXPORTER), "EnforcedPause")
    assert chain.nft.functions.balanceOf(BOB).call() == 1
    assert chain.nft.functions.awarded(BOB, GREEN_EXPORTER).call() == 0
    chain.reverts(chain.nft.functions.tokenURI(999), "ERC721NonexistentToken")
