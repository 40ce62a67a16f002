"""Register ↔ value conversion for the data types device profiles use.

Registers are 16-bit words as read. Multi-register values follow the
profile's word order (``big``: most significant word first, the Modbus
convention) and byte order within each word. Values a device reports as
"not implemented" (SunSpec sentinels such as 0x8000 for int16, 0xFFFF for
uint16, NaN for float32) decode to ``None``, never to a number.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence


class DataType(enum.Enum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    ACC16 = "acc16"
    ACC32 = "acc32"
    ACC64 = "acc64"
    SUNSSF = "sunssf"  # SunSpec scale factor: int16 power of ten
    ENUM16 = "enum16"
    BITFIELD16 = "bitfield16"
    BITFIELD32 = "bitfield32"
    STRING = "string"

    @property
    def words(self) -> int:
        """Registers one value occupies (strings: given by the profile)."""
        return _WORDS.get(self, 1)


_WORDS = {
    DataType.INT32: 2, DataType.UINT32: 2, DataType.FLOAT32: 2, DataType.ACC32: 2, DataType.BITFIELD32: 2,
    DataType.INT64: 4, DataType.UINT64: 4, DataType.FLOAT64: 4, DataType.ACC64: 4,
}
_STRUCT = {
    DataType.INT16: "h", DataType.UINT16: "H", DataType.SUNSSF: "h", DataType.ENUM16: "H",
    DataType.BITFIELD16: "H", DataType.ACC16: "H",
    DataType.INT32: "i", DataType.UINT32: "I", DataType.ACC32: "I", DataType.BITFIELD32: "I",
    DataType.INT64: "q", DataType.UINT64: "Q", DataType.ACC64: "Q",
    DataType.FLOAT32: "f", DataType.FLOAT64: "d",
}
# Raw integers that mean "not implemented" (SunSpec), per type.
_SENTINELS = {
    DataType.INT16: 0x8000, DataType.SUNSSF: 0x8000, DataType.UINT16: 0xFFFF, DataType.ENUM16: 0xFFFF,
    DataType.BITFIELD16: 0xFFFF, DataType.ACC16: 0,
    DataType.INT32: 0x80000000, DataType.UINT32: 0xFFFFFFFF, DataType.BITFIELD32: 0xFFFFFFFF, DataType.ACC32: 0,
    DataType.INT64: 0x8000000000000000, DataType.UINT64: 0xFFFFFFFFFFFFFFFF, DataType.ACC64: 0,
}


class WordOrder(enum.Enum):
    BIG = "big"
    LITTLE = "little"


class ByteOrder(enum.Enum):
    BIG = "big"
    LITTLE = "little"


def _to_bytes(regs: Sequence[int], word_order: WordOrder, byte_order: ByteOrder) -> bytes:
    words = list(regs) if word_order is WordOrder.BIG else list(reversed(regs))
    out = bytearray()
    for w in words:
        pair = int(w).to_bytes(2, "big")
        out += pair if byte_order is ByteOrder.BIG else pair[::-1]
    return bytes(out)


def _from_bytes(data: bytes, word_order: WordOrder, byte_order: ByteOrder) -> list[int]:
    words = []
    for i in range(0, len(data), 2):
        pair = data[i:i + 2] if byte_order is ByteOrder.BIG else data[i:i + 2][::-1]
        words.append(int.from_bytes(pair, "big"))
    return words if word_order is WordOrder.BIG else list(reversed(words))


def decode(
    regs: Sequence[int],
    dtype: DataType,
    word_order: WordOrder = WordOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
    sentinels: bool = True,
) -> float | str | None:
    """Value of the registers, or ``None`` for a "not implemented" sentinel."""
    if dtype is DataType.STRING:
        raw = _to_bytes(regs, WordOrder.BIG, byte_order)
        return raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace").strip()
    if len(regs) != dtype.words:
        raise ValueError(f"{dtype.value} needs {dtype.words} register(s), got {len(regs)}")
    raw_bytes = _to_bytes(regs, word_order, byte_order)
    if dtype in (DataType.FLOAT32, DataType.FLOAT64):
        value = float(struct.unpack(">" + _STRUCT[dtype], raw_bytes)[0])
        return None if sentinels and math.isnan(value) else value
    unsigned = int.from_bytes(raw_bytes, "big")
    if sentinels and _SENTINELS.get(dtype) == unsigned:
        return None
    return float(struct.unpack(">" + _STRUCT[dtype], raw_bytes)[0])


def encode(
    value: float | str | None,
    dtype: DataType,
    word_order: WordOrder = WordOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
    words: int | None = None,
) -> list[int]:
    """Registers for a value (``None`` writes the type's sentinel); used by
    writes and by the device simulators."""
    if dtype is DataType.STRING:
        n = words or 8
        raw = str(value or "").encode("utf-8")[: 2 * n].ljust(2 * n, b"\x00")
        return _from_bytes(raw, WordOrder.BIG, byte_order)
    if value is None:
        if dtype in (DataType.FLOAT32, DataType.FLOAT64):
            raw = struct.pack(">" + _STRUCT[dtype], math.nan)
        else:
            raw = _SENTINELS[dtype].to_bytes(2 * dtype.words, "big")
        return _from_bytes(raw, word_order, byte_order)
    code = _STRUCT[dtype]
    if dtype in (DataType.FLOAT32, DataType.FLOAT64):
        raw = struct.pack(">" + code, float(value))
    else:
        raw = struct.pack(">" + code, round(float(value)))
    return _from_bytes(raw, word_order, byte_order)
