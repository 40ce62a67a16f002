// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {Operated} from "./Operated.sol";
import {Roles} from "./Roles.sol";

/// @title Soulbound achievement badges: minted once per holder and milestone, never transferred.
/// @notice Metadata is JSON built on chain and returned as a data URI.
contract AchievementNFT is ERC721, Operated {
    enum Achievement {
        FirstTrade,
        GreenExporter1MWh,
        DemandResponder,
        GridGuardian,
        Prosumer
    }

    struct Badge {
        Achievement kind;
        uint64 awardedAt;
    }

    uint256 public nextTokenId = 1;
    mapping(uint256 tokenId => Badge) public badges;
    mapping(address holder => mapping(Achievement => uint256 tokenId)) public awarded;

    error Soulbound(uint256 tokenId);
    error ApprovalsDisabled();
    error AlreadyAwarded(address holder, Achievement kind, uint256 tokenId);

    event AchievementAwarded(address indexed holder, Achievement indexed kind, uint256 indexed tokenId);

    constructor(address admin) ERC721("EnergyNet Achievement", "ENA") Operated(admin) {}

    /// @notice Award milestone `kind` to `holder`. MINTER only; once per holder and milestone.
    function mint(address holder, Achievement kind) external onlyRole(Roles.MINTER) whenNotPaused returns (uint256) {
        uint256 existing = awarded[holder][kind];
        if (existing != 0) revert AlreadyAwarded(holder, kind, existing);
        uint256 tokenId = nextTokenId++;
        awarded[holder][kind] = tokenId;
        badges[tokenId] = Badge(kind, uint64(block.timestamp));
        _mint(holder, tokenId);
        emit AchievementAwarded(holder, kind, tokenId);
        return tokenId;
    }

    /// @notice Data URI with the badge's JSON metadata (name, description, attributes).
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        Badge memory badge = badges[tokenId];
        (string memory title, string memory description) = _describe(badge.kind);
        bytes memory json = abi.encodePacked(
            '{"name":"', title, " #", Strings.toString(tokenId),
            '","description":"', description,
            '","attributes":[{"trait_type":"achievement","value":"', title,
            '"},{"display_type":"date","trait_type":"awarded","value":', Strings.toString(badge.awardedAt), "}]}"
        );
        return string.concat("data:application/json;base64,", Base64.encode(json));
    }

    /// @notice Approvals are meaningless for soulbound tokens and always revert.
    function approve(address, uint256) public pure override {
        revert ApprovalsDisabled();
    }

    /// @notice Approvals are meaningless for soulbound tokens and always revert.
    function setApprovalForAll(address, bool) public pure override {
        revert ApprovalsDisabled();
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    /// @dev Every movement except minting reverts: badges stay with whoever earned them.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address) {
        address from = _ownerOf(tokenId);
        if (from != address(0)) revert Soulbound(tokenId);
        return super._update(to, tokenId, auth);
    }

    function _describe(Achievement kind) private pure returns (string memory, string memory) {
        if (kind == Achievement.FirstTrade) return ("First Trade", "Completed a first peer-to-peer energy trade.");
        if (kind == Achievement.GreenExporter1MWh) return ("Green Exporter", "Exported 1 MWh of renewable energy.");
        if (kind == Achievement.DemandResponder) return ("Demand Responder", "Delivered a demand-response reduction.");
        if (kind == Achievement.GridGuardian) return ("Grid Guardian", "Took part in ten demand-response events.");
        return ("Prosumer", "Both produced and consumed energy on the market.");
    }
}
