"""How a source's code values are to be read: matrix, range, primaries, transfer, depth.

Plain Python (no torch), so decoders can describe a frame before torch has loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

MatrixName = Literal["bt709", "bt601", "bt2020"]
RangeName = Literal["tv", "pc"]
PrimariesName = Literal["bt709", "bt601", "bt2020"]
TransferName = Literal["sdr", "pq", "hlg"]
MATRICES: tuple[str, ...] = get_args(MatrixName)
RANGES: tuple[str, ...] = get_args(RangeName)
PRIMARIES: tuple[str, ...] = get_args(PrimariesName)
TRANSFERS: tuple[str, ...] = get_args(TransferName)

PQ_DEFAULT_PEAK_NITS = 1000.0  # mastering peak assumed when a PQ file does not say
SDR_WHITE_NITS = 203.0  # HDR reference white (BT.2408), shown as SDR's 100 %
HLG_PEAK_NITS = 1000.0  # the nominal HLG display (BT.2100)


@dataclass(frozen=True)
class SourceColour:
    """How a decoded frame's code values are to be read.

    ``bits`` is the depth of the values handed over (8 for uint8 planes, 10 for 10-bit
    values in uint16/int16 planes, least-significant-bit aligned). ``peak_nits`` is the
    brightest value the source was mastered for (PQ only; HLG assumes 1000 nits).
    """

    matrix: MatrixName = "bt709"
    range: RangeName = "tv"
    primaries: PrimariesName = "bt709"
    transfer: TransferName = "sdr"
    bits: int = 8
    peak_nits: float = PQ_DEFAULT_PEAK_NITS

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("matrix", self.matrix, MATRICES),
            ("range", self.range, RANGES),
            ("primaries", self.primaries, PRIMARIES),
            ("transfer", self.transfer, TRANSFERS),
        ):
            if value not in allowed:
                raise ValueError(f"Invalid {name} ({value!r}). Supported: {', '.join(allowed)}.")
        if self.bits not in (8, 9, 10, 12, 14, 16):
            raise ValueError(f"Invalid bit depth ({self.bits}). Supported: 8, 9, 10, 12, 14, 16.")
        if not self.peak_nits > 0:
            raise ValueError(f"Invalid peak_nits ({self.peak_nits}): must be positive")

    @property
    def is_hdr(self) -> bool:
        return self.transfer in ("pq", "hlg")

    @property
    def is_output_space(self) -> bool:
        """True when the values already are 8-bit BT.709 limited-range SDR: nothing to do."""
        return self.bits == 8 and not self.needs_colour_change

    @property
    def needs_colour_change(self) -> bool:
        """True when more than the bit depth differs from BT.709 limited-range SDR."""
        return (
            self.matrix != "bt709" or self.range != "tv" or self.is_hdr or self.primaries == "bt2020"
        )

    def describe(self) -> str:
        what = f"{self.matrix} {'limited' if self.range == 'tv' else 'full'} range {self.bits}-bit"
        if self.primaries == "bt2020":
            what += ", BT.2020 primaries"
        if self.is_hdr:
            what += f", HDR {self.transfer.upper()}"
        return what
