"""CPU video decoding with PyAV: decode, upright, crop and scale in FFmpeg's filters (no GIL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import av
from av.filter import Graph

from farm.media._color import FrameKind, UnsupportedColour, declared_tags, frame_kind
from farm.media._frames import FittedFrame, plane_view
from farm.media._probe import MediaInfo, describe_av_error, input_error, open_input, video_stream
from kernels import fit_geometry, small_cover_size

if TYPE_CHECKING:
    from kernels import Planes

# Bilinear: with the short decode-side taps it keeps pace with two decoders and x264 on
# two cores; against the ffmpeg CLI's bicubic the output stays above 50 dB PSNR.
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


def _scale_args(width: int, height: int, kind: FrameKind, *, flags: str = SCALE_FLAGS) -> str:
    # Only resample: the same matrix and range on both sides, set explicitly so that no
    # FFmpeg version finds a difference to convert (FFmpeg 8 takes unset ones from the
    # frame's tags and converts YUV->YUV through 8-bit RGB when they differ, clipping).
    # Full range on both sides, because libswscale reads gray and yuvj input as full
    # whatever it is told. Colour conversion is the kernels' job.
    if kind.family == "rgb":
        return f"{width}:{height}:flags={flags}"
    return f"{width}:{height}:flags={flags}:in_range=pc:out_range=pc:in_color_matrix=bt709:out_color_matrix=bt709"


def to_planes(frame: av.VideoFrame, kind: FrameKind) -> "Planes":
    """The graph's output frame as 8-bit BT.709 limited-range planes."""
    import kernels

    w, h = frame.width, frame.height
    if kind.family == "rgb":
        return kernels.rgb_to_yuv420(plane_view(frame, 0, width=w, height=h, channels=3))
    bps = 2 if kind.colour.bits > 8 else 1
    planes = kernels.Planes(
        plane_view(frame, 0, width=w, height=h, bytes_per_sample=bps),
        plane_view(frame, 1, width=w // 2, height=h // 2, bytes_per_sample=bps),
        plane_view(frame, 2, width=w // 2, height=h // 2, bytes_per_sample=bps),
    )
    return kernels.convert_to_bt709(planes, source=kind.colour)


def _over_black(frame: av.VideoFrame, kind: FrameKind) -> list[tuple[str, str | None]]:
    """Filters that composite a frame with alpha over black (premultiply), so transparent
    pixels show black like a letterbox and the scaler blends colours, not colours hidden
    under zero alpha."""
    if not kind.alpha:
        return []
    if kind.family == "rgb":
        return [("format", "gbrap"), ("premultiply", "inplace=1")]
    planar = frame.format.name.startswith("yuva")
    return [*([] if planar else [("format", "yuva444p")]), ("premultiply", "inplace=1")]


def _alpha_decoder(stream) -> av.CodecContext | None:
    """libvpx's VP9 decoder for a WebM stream with an alpha channel (FFmpeg's own VP9
    decoder drops the alpha that WebM keeps beside each frame)."""
    alpha_mode = str((stream.metadata or {}).get("alpha_mode", (stream.metadata or {}).get("ALPHA_MODE", "0")))
    if stream.codec_context.name != "vp9" or alpha_mode.strip() != "1":
        return None
    try:
        return av.CodecContext.create("libvpx-vp9", "r")
    except (av.error.FFmpegError, ValueError):
        return None


def decoded_frames(container: av.container.InputContainer, stream) -> Iterator[av.VideoFrame]:
    """The stream's frames, with alpha where the container carries it."""
    ctx = _alpha_decoder(stream)
    if ctx is None:
        yield from container.decode(stream)
        return
    for packet in container.demux(stream):
        for frame in ctx.decode(packet):
            if frame.pts is not None:
                frame.time_base = stream.time_base
            yield frame


class CpuVideoDecoder:
    """Decodes one input with PyAV and fits every frame into a box in FFmpeg's filters.

    Cropping, scaling, rotation and chroma subsampling run inside libavfilter/libswscale
    with the GIL released, so two inputs and the encoder overlap on separate cores; the
    scaler only resamples code values. BT.709 limited-range input comes out as it is, as
    8-bit yuv420p AVFrames; anything else (another matrix, full range, BT.2020, HDR, RGB,
    alpha) is converted by ``kernels.convert_to_bt709`` into :class:`kernels.Planes`.
    """

    name = "pyav-cpu"
    device = "cpu"
    on_device = False  # AVFrames: the encoder's own canvases take them

    def __init__(self, *, threads: int = 0) -> None:
        self._threads = threads
        self.notes: list[str] = []

    def frames(
        self, info: MediaInfo, *, box_width: int, box_height: int, fit: str
    ) -> Iterator[FittedFrame]:
        """Yield the fitted frames of ``info.path`` in presentation order."""
        container = open_input(info.path)
        try:
            stream = video_stream(container)
            if stream is None:
                raise input_error(info.path, "has no video stream")
            declared = declared_tags(stream)
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self._threads
            graph = None
            last_t = None
            step = 1.0 / info.fps if info.fps > 0 else 1.0 / 30
            kind = None
            try:
                for frame in decoded_frames(container, stream):
                    if graph is None:
                        try:
                            kind = frame_kind(frame, declared)
                        except UnsupportedColour as err:
                            raise input_error(info.path, str(err)) from None
                        graph, src, sinks = self._build(frame, info, box_width, box_height, fit, kind)
                    t = frame.time
                    if t is None:
                        t = (last_t + step) if last_t is not None else info.start_s
                    last_t = t
                    src.push(frame)
                    picture = sinks[0].pull()
                    background = sinks[1].pull() if len(sinks) > 1 else None
                    if not kind.passthrough:
                        picture = to_planes(picture, kind)
                        background = to_planes(background, kind) if background is not None else None
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

    def _build(self, frame: av.VideoFrame, info: MediaInfo, box_width: int, box_height: int, fit: str, kind: FrameKind):
        rotation = int(round(frame.rotation or 0)) % 360
        rotation = rotation - 360 if rotation > 180 else rotation
        w, h = (frame.height, frame.width) if abs(rotation) == 90 else (frame.width, frame.height)
        graph = Graph()
        try:
            graph.threads = 1  # PyAV 17+; the decoders and x264 already fill the cores
        except AttributeError:
            pass
        src = graph.add_buffer(
            width=frame.width, height=frame.height, format=frame.format, time_base=frame.time_base
        )
        head = src
        if frame.format.has_palette:  # transpose and crop take no palette: expand it first
            node = graph.add("format", "rgba")
            head.link_to(node)
            head = node
        for name, args in _over_black(frame, kind):
            node = graph.add(name, args)
            head.link_to(node)
            head = node
        if w < 2 or h < 2:  # a 1x1 video: repeat its pixels so 4:2:0 and the fit have room
            w, h = max(w, 2), max(h, 2)
            ow, oh = (h, w) if abs(rotation) == 90 else (w, h)
            node = graph.add("scale", _scale_args(ow, oh, kind, flags="neighbor"))
            head.link_to(node)
            head = node
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
            scale = graph.add("scale", _scale_args(ow, oh, kind))
            fmt = graph.add("format", kind.out_format)
            sink = graph.add("buffersink")
            crop.link_to(scale)
            scale.link_to(fmt)
            fmt.link_to(sink)
            sinks.append(sink)
        graph.configure()
        return graph, src, sinks
