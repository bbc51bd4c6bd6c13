"""Reading a decoded frame's colour: its tags, the untagged-size rule, its pixel format family.

The answer is a :class:`kernels.SourceColour`, which ``kernels.convert_to_bt709`` turns
into BT.709 limited range. Decoders only resample code values; they never convert colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import av

from kernels import SourceColour

# AVColorSpace -> our matrix names. SMPTE 240M and FCC are within a level of their
# neighbours on real content.
_MATRIX = {1: "bt709", 4: "bt601", 5: "bt601", 6: "bt601", 7: "bt709", 9: "bt2020", 10: "bt2020"}
_BT2020_PRIMARIES = 9  # AVCOL_PRI_BT2020
_TRANSFER = {16: "pq", 18: "hlg"}  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67
_RANGE_TV, _RANGE_PC = 1, 2  # AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG
# Untagged video is BT.709 from this many lines up (the shorter side), BT.601 below, as
# players assume.
HD_LINES = 720


def untagged_matrix(width: int, height: int) -> str:
    """The matrix players assume for untagged video of this size."""
    return "bt709" if min(width, height) >= HD_LINES else "bt601"


@dataclass(frozen=True)
class FrameKind:
    """What a decoder's filter graph must produce for one input, and how to read it.

    ``family`` is ``yuv`` or ``rgb`` (RGB and palette formats, e.g. GIF and PNG);
    ``out_format`` is the pixel format the graph's scaler writes (same colour, resampled);
    ``colour`` tells the kernels how to read ``yuv`` output; ``alpha`` says the format
    carries transparency, composited over black.
    """

    family: str
    out_format: str
    colour: SourceColour
    alpha: bool
    range: str  # "tv" or "pc": the scaler's in and out range, so it only resamples

    @property
    def passthrough(self) -> bool:
        """True when the graph's output already is 8-bit BT.709 limited yuv420p."""
        return self.family == "yuv" and not self.alpha and self.colour.is_output_space


_UNSET = {"colorspace": 2, "color_primaries": 2, "color_trc": 2, "color_range": 0}


def declared_tags(stream: av.video.stream.VideoStream) -> dict[str, int]:
    """The colour tags the container declares for ``stream``; read them before decoding,
    because decoders overwrite them (FFmpeg's VP8 decoder says BT.601 for every frame,
    whatever the WebM file says)."""
    cc = stream.codec_context
    return {name: int(getattr(cc, name, None) or unset) for name, unset in _UNSET.items()}


def _tag(frame: av.VideoFrame, declared: dict[str, int] | None, name: str) -> int:
    # The container's word first, then the frame's (PyAV 18 has primaries and transfer on
    # frames; older builds only the declared ones).
    unset = _UNSET[name]
    if declared and declared.get(name, unset) != unset:
        return declared[name]
    return int(getattr(frame, name, None) or unset)


def frame_kind(frame: av.VideoFrame, declared: dict[str, int] | None = None) -> FrameKind:
    """How to read ``frame`` (the first of its stream) and what the graph should make of it.

    ``declared`` holds the tags the container gave before decoding (:func:`declared_tags`).
    """
    fmt = frame.format
    comps = fmt.components
    alpha = fmt.has_palette or any(c.is_alpha for c in comps)
    if fmt.is_rgb or fmt.has_palette:
        return FrameKind("rgb", "rgba" if alpha else "rgb24", SourceColour(), alpha, "pc")
    bits = max((c.bits for c in comps), default=8)
    matrix = _MATRIX.get(_tag(frame, declared, "colorspace")) or untagged_matrix(frame.width, frame.height)
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
    )
    if alpha:
        out_format = "yuva420p"
    elif bits > 8 and probe.needs_colour_change:
        out_format = "yuv420p10le"  # keep the precision a conversion needs
    else:
        out_format = "yuv420p"
    colour = SourceColour(
        matrix=probe.matrix,
        range=probe.range,
        primaries=probe.primaries,
        transfer=probe.transfer,
        bits=10 if out_format == "yuv420p10le" else 8,
    )
    return FrameKind("yuv", out_format, colour, alpha, probe.range)
