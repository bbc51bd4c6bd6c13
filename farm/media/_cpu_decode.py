"""CPU video decoding with PyAV: decode, upright, crop and scale in FFmpeg's filters (no GIL)."""

from __future__ import annotations

from collections.abc import Iterator

import av
from av.filter import Graph

from farm.errors import InputError
from farm.media._frames import FittedFrame
from farm.media._probe import MediaInfo, describe_av_error, input_error, open_input
from kernels import fit_geometry, small_cover_size

# libswscale's bicubic: what the ffmpeg CLI's scale filter uses, so our output and a
# filtergraph's agree to within encoder noise.
SCALE_FLAGS = "bilinear"


def _rotation_filters(rotation_deg: int) -> list[tuple[str, str | None]]:
    # frame.rotation is counter-clockwise; a phone's "rotate=90" tag is -90 here and
    # needs a clockwise transpose to stand upright, as ffmpeg's autorotate does.
    if rotation_deg == -90:
        return [("transpose", "clock")]
    if rotation_deg == 90:
        return [("transpose", "cclock")]
    if abs(rotation_deg) == 180:
        return [("hflip", None), ("vflip", None)]
    return []


# FFmpeg's names for the matrices swscale converts between, by AVColorSpace value.
_MATRICES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}


def source_matrix(frame: av.VideoFrame) -> str:
    """The YUV matrix of ``frame``; untagged video is taken as BT.709 from 720 lines up and
    BT.601 below, as players assume (swscale alone would take every untagged frame as 601)."""
    tagged = _MATRICES.get(int(frame.colorspace or 2))
    if tagged is not None:
        return tagged
    return "bt709" if min(frame.width, frame.height) >= 720 else "smpte170m"


def _scale_args(width: int, height: int, matrix: str) -> str:
    return (
        f"{width}:{height}:flags={SCALE_FLAGS}:in_range=auto:out_range=tv:"
        f"in_color_matrix={matrix}:out_color_matrix=bt709"
    )


class CpuVideoDecoder:
    """Decodes one input with PyAV and fits every frame into a box in FFmpeg's filters.

    Cropping, scaling, rotation, bit-depth and chroma conversion all run inside
    libavfilter/libswscale with the GIL released, so two inputs and the encoder overlap
    on separate cores. Frames come out as 8-bit yuv420p BT.709 limited range.
    """

    name = "pyav-cpu"

    def __init__(self, *, threads: int = 0) -> None:
        self._threads = threads

    def frames(
        self, info: MediaInfo, *, box_width: int, box_height: int, fit: str
    ) -> Iterator[FittedFrame]:
        """Yield the fitted frames of ``info.path`` in presentation order."""
        container = open_input(info.path)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self._threads
            graph = None
            last_t = None
            step = 1.0 / info.fps if info.fps > 0 else 1.0 / 30
            try:
                for frame in container.decode(stream):
                    if graph is None:
                        graph, src, sinks = self._build(frame, info, box_width, box_height, fit)
                    t = frame.time
                    if t is None:
                        t = (last_t + step) if last_t is not None else info.start_s
                    last_t = t
                    src.push(frame)
                    picture = sinks[0].pull()
                    background = sinks[1].pull() if len(sinks) > 1 else None
                    yield FittedFrame(t - info.start_s, picture, background)
            except av.error.FFmpegError as err:
                raise input_error(info.path, f"video data is damaged ({describe_av_error(err)})") from None
            if last_t is None:
                raise input_error(info.path, "video stream has no frames (empty or truncated)")
            decoded_s = last_t - info.start_s + step
            if info.duration_s - decoded_s > max(1.0, 0.1 * info.duration_s):
                raise input_error(
                    info.path,
                    f"truncated: video stops at {decoded_s:.1f} s of the {info.duration_s:.1f} s it declares",
                )
        finally:
            container.close()

    def _build(self, frame: av.VideoFrame, info: MediaInfo, box_width: int, box_height: int, fit: str):
        rotation = int(round(frame.rotation or 0)) % 360
        rotation = rotation - 360 if rotation > 180 else rotation
        w, h = (frame.height, frame.width) if abs(rotation) == 90 else (frame.width, frame.height)
        if w < 2 or h < 2:
            raise InputError(f"{info.path}: video is {w}x{h}, too small to use")
        graph = Graph()
        graph.threads = 1
        src = graph.add_buffer(
            width=frame.width, height=frame.height, format=frame.format, time_base=frame.time_base
        )
        head = src
        for name, args in _rotation_filters(rotation):
            node = graph.add(name, args)
            head.link_to(node)
            head = node
        geo = fit_geometry(src_width=w, src_height=h, box_width=box_width, box_height=box_height, fit=fit)
        branches = [(geo, geo.scaled_width, geo.scaled_height)]
        if fit == "blur":
            sw, sh = small_cover_size(box_width=box_width, box_height=box_height)
            cg = fit_geometry(src_width=w, src_height=h, box_width=sw, box_height=sh, fit="cover")
            branches.append((cg, sw, sh))
            split = graph.add("split", "2")
            head.link_to(split)
        sinks = []
        for i, (g, ow, oh) in enumerate(branches):
            crop = graph.add("crop", f"{g.crop_width}:{g.crop_height}:{g.crop_x}:{g.crop_y}")
            if fit == "blur":
                split.link_to(crop, output_idx=i)
            else:
                head.link_to(crop)
            scale = graph.add("scale", _scale_args(ow, oh, source_matrix(frame)))
            fmt = graph.add("format", "yuv420p")
            sink = graph.add("buffersink")
            crop.link_to(scale)
            scale.link_to(fmt)
            fmt.link_to(sink)
            sinks.append(sink)
        graph.configure()
        return graph, src, sinks
