"""Modbus register decoding: every type, word and byte order, sentinels."""

from __future__ import annotations

import pytest

from drivers.modbus.codec import ByteOrder, DataType, WordOrder, decode, encode

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("dtype", "value"),
    [(DataType.INT16, -1234), (DataType.UINT16, 54321), (DataType.INT32, -123456789),
     (DataType.UINT32, 3_000_000_000), (DataType.INT64, -(2**40)), (DataType.UINT64, 2**60),
     (DataType.FLOAT32, 230.5), (DataType.FLOAT64, 49.98712345), (DataType.ACC32, 123456),
     (DataType.ACC64, 2**50), (DataType.SUNSSF, -2), (DataType.ENUM16, 4)],
)
@pytest.mark.parametrize("word_order", list(WordOrder))
@pytest.mark.parametrize("byte_order", list(ByteOrder))
def test_round_trip(dtype: DataType, value: float, word_order: WordOrder, byte_order: ByteOrder) -> None:
    regs = encode(value, dtype, word_order, byte_order)
    assert len(regs) == dtype.words and all(0 <= r <= 0xFFFF for r in regs)
    assert decode(regs, dtype, word_order, byte_order) == pytest.approx(value)


def test_known_layouts() -> None:
    # 230.0 as IEEE float32 is 0x43660000: high word first (Eastron SDM630) or swapped.
    assert decode([0x4366, 0x0000], DataType.FLOAT32) == 230.0
    assert decode([0x0000, 0x4366], DataType.FLOAT32, WordOrder.LITTLE) == 230.0
    assert decode([0x6643, 0x0000], DataType.FLOAT32, byte_order=ByteOrder.LITTLE) == 230.0
    assert decode([0x0001, 0x0002], DataType.UINT32) == 0x00010002
    assert decode([0xFFFF], DataType.INT16) == -1


@pytest.mark.parametrize(
    ("regs", "dtype"),
    [([0x8000], DataType.INT16), ([0xFFFF], DataType.UINT16), ([0x8000], DataType.SUNSSF),
     ([0x8000, 0], DataType.INT32), ([0xFFFF, 0xFFFF], DataType.UINT32), ([0, 0], DataType.ACC32),
     ([0x7FC0, 0], DataType.FLOAT32), ([0xFFFF], DataType.ENUM16)],
)
def test_not_implemented_sentinels_are_no_value(regs: list[int], dtype: DataType) -> None:
    assert decode(regs, dtype) is None
    assert encode(None, dtype) == regs  # float32 writes the quiet NaN 0x7FC0 0000


def test_strings_and_wrong_lengths() -> None:
    regs = encode("SunSpecTest", DataType.STRING, words=8)
    assert len(regs) == 8 and decode(regs, DataType.STRING) == "SunSpecTest"
    with pytest.raises(ValueError, match="float32 needs 2 register"):
        decode([1], DataType.FLOAT32)
