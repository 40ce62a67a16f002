"""Role identifiers of the EnergyNet contracts (keccak256 of the role name, as in Roles.sol)."""

from web3 import Web3

DEFAULT_ADMIN = b"\x00" * 32
GRID_OPERATOR = Web3.keccak(text="GRID_OPERATOR_ROLE")
ORACLE = Web3.keccak(text="ORACLE_ROLE")
METER = Web3.keccak(text="METER_ROLE")
MATCHER = Web3.keccak(text="MATCHER_ROLE")
MINTER = Web3.keccak(text="MINTER_ROLE")
PAUSER = Web3.keccak(text="PAUSER_ROLE")
MARKET = Web3.keccak(text="MARKET_ROLE")

NAMES = {GRID_OPERATOR: "GRID_OPERATOR", ORACLE: "ORACLE", METER: "METER", MATCHER: "MATCHER",
         MINTER: "MINTER", PAUSER: "PAUSER", MARKET: "MARKET", DEFAULT_ADMIN: "DEFAULT_ADMIN"}

# What a registrar account needs to admit participants (``energynet chain up --participants``): participants
# and their meters on MeterReading, credits from the demo token. Granted at deploy by contracts.deploy.
REGISTRATION = {"MeterReading": (GRID_OPERATOR,), "EnergyNetCredit": (MINTER,)}
