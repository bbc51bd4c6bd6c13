"""Reading a decoded frame's colour: its tags, the untagged-size rule, its pixel format family.

The answer is a :class:`kernels.SourceColour`, which ``kernels.convert_to_bt709`` turns
into BT.709 limited range. Decoders only resample code values; they never convert colour.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

import av

from kernels import SDR_WHITE_NITS, SourceColour

# AVColorSpace -> our matrix names. SMPTE 240M and FCC are within a level of their
# neighbours on real content.
_MATRIX = {1: "bt709", 4: "bt601", 5: "bt601", 6: "bt601", 7: "bt709", 9: "bt2020"}
# Matrices the kernels do not convert: refused with a clear message, not shown wrong.
_UNSUPPORTED_MATRIX = {
    8: "YCgCo", 10: "BT.2020 constant-luminance", 11: "SMPTE ST 2085", 12: "chroma-derived non-constant-luminance",
    13: "chroma-derived constant-luminance", 14: "ICtCp", 15: "IPT-C2", 16: "YCgCo-Re", 17: "YCgCo-Ro",
}  # fmt: skip
_BT2020_PRIMARIES = 9  # AVCOL_PRI_BT2020
_TRANSFER = {16: "pq", 18: "hlg"}  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67
_RANGE_TV, _RANGE_PC = 1, 2  # AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG
# Untagged video is BT.709 from this many lines up (the shorter side), BT.601 below, as
# players assume.
HD_LINES = 720
MAX_PQ_NITS = 10000.0

FamilyName = Literal["yuv", "rgb"]


class UnsupportedColour(ValueError):
    """A frame whose colour the kernels cannot convert (the caller names the file)."""


def untagged_matrix(width: int, height: int) -> str:
    """The matrix players assume for untagged video of this size."""
    return "bt709" if min(width, height) >= HD_LINES else "bt601"


@dataclass(frozen=True)
class FrameKind:
    """What a decoder's filter graph must produce for one input, and how to read it.

    ``family`` is ``yuv`` or ``rgb`` (RGB and palette formats, e.g. GIF and PNG);
    ``out_format`` is the pixel format the graph's scaler writes (same colour, resampled);
    ``colour`` tells the kernels how to read ``yuv`` output; ``alpha`` says the format
    carries transparency, which the graph composites over black before scaling.
    """

    family: FamilyName
    out_format: str
    colour: SourceColour
    alpha: bool

    @property
    def passthrough(self) -> bool:
        """True when the graph's output already is 8-bit BT.709 limited yuv420p."""
        return self.family == "yuv" and self.colour.is_output_space


_UNSET = {"colorspace": 2, "color_primaries": 2, "color_trc": 2, "color_range": 0}
# Decoders that stamp every frame with a fixed answer instead of reading the bitstream:
# for these the container's colour elements are the better witness. (FFmpeg's VP8 decoder
# says BT.601 whatever the WebM file says; VP8 has no room for another matrix.)
_CONTAINER_FIRST = frozenset({"vp8"})


def declared_tags(stream: av.video.stream.VideoStream) -> dict[str, int | str]:
    """The colour tags the container declares for ``stream`` (and its codec's name); read
    them before decoding, because decoders overwrite them."""
    cc = stream.codec_context
    tags: dict[str, int | str] = {name: int(getattr(cc, name, None) or unset) for name, unset in _UNSET.items()}
    tags["codec"] = cc.name
    return tags


def _tag(frame: av.VideoFrame, declared: dict[str, int | str] | None, name: str) -> int:
    # The frame's word (the bitstream's), else the container's; the container's first for
    # decoders that do not read colour from the bitstream. PyAV before 18 has no primaries
    # or transfer on frames: then the container's (which FFmpeg fills from the bitstream).
    unset = _UNSET[name]
    on_frame = int(getattr(frame, name, None) or unset)
    in_container = int(declared.get(name, unset)) if declared else unset
    if in_container != unset and (on_frame == unset or (declared or {}).get("codec") in _CONTAINER_FIRST):
        return in_container
    return on_frame


def hdr_peak_nits(frame: av.VideoFrame) -> float | None:
    """The brightest level a PQ frame's metadata promises: MaxCLL (content light level),
    else the mastering display's peak; None when the frame carries neither."""
    cll = mastering = None
    for sd in getattr(frame, "side_data", ()) or ():
        name = str(getattr(sd, "type", "")).upper()
        try:
            raw = bytes(sd)
        except (TypeError, ValueError, BufferError):
            continue
        if "CONTENT_LIGHT_LEVEL" in name and len(raw) >= 4:
            cll = struct.unpack_from("<I", raw, 0)[0] or None
        elif "MASTERING_DISPLAY" in name and len(raw) >= 88:
            # AVMasteringDisplayMetadata: 8 AVRationals of primaries and white point, then
            # min_luminance and max_luminance (AVRational), has_primaries, has_luminance.
            num, den = struct.unpack_from("<ii", raw, 72)
            has_luminance = struct.unpack_from("<i", raw, 84)[0]
            if has_luminance and den > 0 and num > 0:
                mastering = num / den
    peak = cll or mastering
    return None if peak is None else min(max(float(peak), SDR_WHITE_NITS), MAX_PQ_NITS)


def frame_kind(frame: av.VideoFrame, declared: dict[str, int | str] | None = None) -> FrameKind:
    """How to read ``frame`` (the first of its stream) and what the graph should make of it.

    ``declared`` holds the tags the container gave before decoding (:func:`declared_tags`).
    Raises :class:`UnsupportedColour` for colour the kernels do not convert.
    """
    fmt = frame.format
    comps = fmt.components
    if fmt.name.startswith("xyz"):
        raise UnsupportedColour("stores CIE XYZ colour (a cinema package), which the farm does not convert")
    alpha = fmt.has_palette or any(c.is_alpha for c in comps)
    if fmt.is_rgb or fmt.has_palette:
        return FrameKind("rgb", "rgb24", SourceColour(), alpha)
    bits = max((c.bits for c in comps), default=8)
    tag = _tag(frame, declared, "colorspace")
    if tag in _UNSUPPORTED_MATRIX:
        raise UnsupportedColour(f"uses the {_UNSUPPORTED_MATRIX[tag]} colour matrix, which the farm does not convert")
    matrix = _MATRIX.get(tag) or untagged_matrix(frame.width, frame.height)
    rng = _tag(frame, declared, "color_range")
    full = rng == _RANGE_PC or (rng != _RANGE_TV and fmt.name.startswith("yuvj"))
    transfer = _TRANSFER.get(_tag(frame, declared, "color_trc"), "sdr")
    primaries = _tag(frame, declared, "color_primaries")
    # HDR is BT.2020 whether or not the primaries were tagged.
    wide = primaries == _BT2020_PRIMARIES or transfer != "sdr"
    probe = SourceColour(
        matrix=matrix,  # type: ignore[arg-type]
        range="pc" if full else "tv",
        primaries="bt2020" if wide else ("bt601" if matrix == "bt601" else "bt709"),
        transfer=transfer,  # type: ignore[arg-type]
        bits=8,
        peak_nits=(hdr_peak_nits(frame) or SourceColour.peak_nits) if transfer == "pq" else SourceColour.peak_nits,
    )
    # 10 bits where a conversion follows (precision for the maths), else 8 straight from
    # the scaler; alpha is composited over black inside the graph, so none comes out.
    out_format = "yuv420p10le" if bits > 8 and probe.needs_colour_change else "yuv420p"
    colour = SourceColour(
        matrix=probe.matrix,
        range=probe.range,
        primaries=probe.primaries,
        transfer=probe.transfer,
        bits=10 if out_format == "yuv420p10le" else 8,
        peak_nits=probe.peak_nits,
    )
    return FrameKind("yuv", out_format, colour, alpha)
