"""The GPU path: NVDEC decoding into CUDA frames, NVENC encoding from them, and the pinned-memory
ring that hands GPU canvases to a CPU encoder where the GPU has no NVENC.

PyNvVideoCodec is imported here and nowhere else, on first use: importing it needs the
driver's ``libnvidia-encode.so.1`` even to decode, so a machine without an NVIDIA driver
never loads it. Everything the GPU produces goes through the same kernels as the CPU
path: ``kernels.convert_to_bt709`` for colour, ``kernels.fit_parts`` for crop and scale.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av

from farm.errors import InputError, UnavailableError
from farm.media._encode import EncoderConfig, PyAVEncoder
from farm.media._frames import FittedFrame, as_planes
from farm.media._probe import MediaInfo

if TYPE_CHECKING:
    from farm.media._decode import VideoDecoder
    from kernels import Planes

# FFmpeg codec names -> PyNvVideoCodec's cudaVideoCodec member names
NVDEC_CODECS = {"h264": "H264", "hevc": "HEVC", "av1": "AV1", "vp9": "VP9", "vp8": "VP8", "mpeg2video": "MPEG2",
                "mpeg4": "MPEG4", "mjpeg": "JPEG", "vc1": "VC1"}
# chroma subsampling of a pixel format's name -> cudaVideoChromaFormat member names
_CHROMA = {"420": "420", "422": "422", "444": "444"}
FIT_BATCH = 8
CANVAS_RING = 4


@functools.lru_cache(maxsize=1)
def nvidia_codec():
    """The PyNvVideoCodec module, or :class:`UnavailableError` saying why it cannot load."""
    try:
        import PyNvVideoCodec
    except Exception as err:  # no driver: a RuntimeError from its own driver check, not ImportError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnavailableError(f"PyNvVideoCodec cannot be used here ({first})") from None
    return PyNvVideoCodec


def cuda_ready() -> tuple[bool, str]:
    """Whether torch sees a CUDA device, and which (or why not)."""
    try:
        import torch

        if torch.cuda.is_available():
            return True, torch.cuda.get_device_name(0)
        return False, "torch sees no CUDA device"
    except Exception as err:
        return False, f"torch cannot use CUDA ({err})"


def _chroma_of(pix_fmt: str) -> str:
    for key in _CHROMA:
        if key in pix_fmt:
            return key
    return "420" if pix_fmt.startswith(("nv12", "p010", "p016")) else "?"


def nvdec_refusal(info: MediaInfo, *, caps=None) -> str | None:
    """Why NVDEC cannot take ``info`` (None when it can): RGB or alpha pictures, a codec it
    does not know, odd sizes, or what the GPU's decoder caps say for the codec, chroma
    format and bit depth (Hopper cannot decode H.264 High 10 or 4:2:2)."""
    if info.source_colour is None:
        return "RGB pictures (NVDEC decodes Y'CbCr video)"
    if info.alpha:
        return "an alpha channel, which NVDEC drops"
    if info.video_codec not in NVDEC_CODECS:
        return f"codec {info.video_codec}"
    if info.coded_width % 2 or info.coded_height % 2:
        return f"an odd frame size ({info.coded_width}x{info.coded_height})"
    chroma = _chroma_of(info.pix_fmt)
    if chroma != "420":
        return f"4:{chroma[1]}:{chroma[2]} chroma" if chroma != "?" else f"pixel format {info.pix_fmt}"
    if caps is not None:
        entry = caps(info.video_codec, chroma, info.source_colour.bits)
        if not entry.get("supported"):
            return f"this GPU's NVDEC has no {info.video_codec} {chroma} {info.source_colour.bits}-bit decoder"
        if info.coded_width > entry.get("width_max", 1 << 16) or info.coded_height > entry.get("height_max", 1 << 16):
            return f"{info.coded_width}x{info.coded_height} is over this GPU's NVDEC limit"
    return None


def _member(enum, wanted: str):
    """The member of a PyNvVideoCodec enum whose name carries ``wanted`` ("H264", "420")."""
    for name in dir(enum):
        if not name.startswith("__") and name.upper().lstrip("_").replace("CUDAVIDEOCODEC_", "").replace(
                "CUDAVIDEOCHROMAFORMAT_", "") in (wanted, f"YUV{wanted}"):
            return getattr(enum, name)
    raise LookupError(f"{getattr(enum, '__name__', enum)} has no {wanted}")


class NvdecCaps:
    """``GetDecoderCaps`` per (codec, chroma, bits), asked once each."""

    def __init__(self, gpu_id: int = 0) -> None:
        self._gpu = gpu_id
        self._seen: dict[tuple, dict] = {}

    def __call__(self, codec: str, chroma: str, bits: int) -> dict:
        key = (codec, chroma, bits)
        if key not in self._seen:
            nvc = nvidia_codec()
            try:
                caps = nvc.GetDecoderCaps(
                    gpuid=self._gpu, codec=_member(nvc.cudaVideoCodec, NVDEC_CODECS[codec]),
                    chromaformat=_member(nvc.cudaVideoChromaFormat, chroma), bitdepth=bits,
                )
                self._seen[key] = {str(k): v for k, v in dict(caps).items()}
            except Exception as err:
                self._seen[key] = {"supported": 0, "error": str(err)}
        return self._seen[key]


class GpuVideoDecoder:
    """Frames on the GPU: NVDEC where it can decode an input, else the CPU decoder with its
    fitted frames uploaded; either way the compositor gets CUDA planes, 8-bit BT.709.

    ``notes`` collects, per input, why it was not decoded on NVDEC. ``device`` is where the
    frames go (a CUDA device; tests stand the CPU in for it).
    """

    on_device = True

    def __init__(self, *, cpu: VideoDecoder, gpu_id: int = 0, nvdec: bool = True, device: str | None = None) -> None:
        self._cpu = cpu
        self._gpu = gpu_id
        self.device = device or f"cuda:{gpu_id}"
        self.notes: list[str] = []
        self._caps = None
        self._nvdec_why: str | None = None
        if nvdec:
            try:
                nvidia_codec()
                self._caps = NvdecCaps(gpu_id)
            except UnavailableError as err:
                self._nvdec_why = str(err)
        else:
            self._nvdec_why = "NVDEC not asked for"
        self.name = "nvdec" if self._caps is not None else "cpu-decode+cuda"

    def frames(self, info: MediaInfo, *, box_width: int, box_height: int, fit: str) -> Iterator[FittedFrame]:
        why = self._nvdec_why or nvdec_refusal(info, caps=self._caps)
        if why is None:
            yield from self._nvdec(info, box_width, box_height, fit)
            return
        note = f"{info.path}: decoded on the CPU ({why})"
        if note not in self.notes:
            self.notes.append(note)
        dev = self.device
        for f in self._cpu.frames(info, box_width=box_width, box_height=box_height, fit=fit):
            background = as_planes(f.background).to(dev, non_blocking=True) if f.background is not None else None
            yield FittedFrame(f.time_s, as_planes(f.picture).to(dev, non_blocking=True), background)

    def _nvdec(self, info: MediaInfo, box_width: int, box_height: int, fit: str) -> Iterator[FittedFrame]:
        import torch

        import kernels

        nvc = nvidia_codec()
        try:
            dmx = nvc.CreateDemuxer(filename=info.path)
            dec = nvc.CreateDecoder(gpuid=self._gpu, codec=dmx.GetNvCodecId(), cudacontext=0, cudastream=0,
                                    usedevicememory=True, outputColorType=nvc.OutputColorType.NATIVE)
            tb = Fraction(int(dmx.GetTimebaseNum()), int(dmx.GetTimebaseDen()))
        except Exception as err:
            raise InputError(f"{info.path}: NVDEC cannot open it ({_first_line(err)})") from None
        source = info.source_colour
        width, height = info.coded_width, info.coded_height
        batch: list[tuple[float, Planes]] = []
        step = 1.0 / info.fps if info.fps > 0 else 1.0 / 30
        last_t = None

        def take(decoded) -> Iterator[FittedFrame]:
            nonlocal batch, last_t
            for frame in decoded:
                t = float(frame.getPTS() * tb) - info.start_s
                raw = torch.from_dlpack(frame)
                planes = kernels.nv12_planes(raw, bits=source.bits)
                if (planes.width, planes.height) != (width, height):  # an aligned surface
                    planes = planes.crop(x=0, y=0, width=width, height=height)
                # the decoder reuses its surfaces: what is kept must be a copy
                kept = kernels.convert_to_bt709(planes, source=source)
                batch.append((t, kept.clone() if kept is planes else kept))
                last_t = t
                if len(batch) == FIT_BATCH:
                    yield from self._fit(batch, info, box_width, box_height, fit)
                    batch = []

        try:
            for packet in dmx:
                yield from take(dec.Decode(packet))
            end = getattr(nvc, "PacketData", None)
            if end is not None:  # an empty packet drains what the decoder still holds
                try:
                    drained = dec.Decode(end())
                except Exception:
                    drained = []
                yield from take(drained)
            if batch:
                yield from self._fit(batch, info, box_width, box_height, fit)
        except InputError:
            raise
        except Exception as err:
            raise input_error_from(info.path, err) from None
        if last_t is None:
            raise InputError(f"{info.path}: video stream has no frames (empty or truncated)")
        decoded_s = last_t + step
        if info.duration_s - decoded_s > max(1.0, 0.1 * info.duration_s):
            raise InputError(f"{info.path}: truncated: video stops at {decoded_s:.1f} s of the "
                             f"{info.duration_s:.1f} s it declares")

    def _fit(self, batch: list, info: MediaInfo, box_width: int, box_height: int, fit: str) -> Iterator[FittedFrame]:
        import torch

        import kernels

        # one call for the batch: rotation, crop and scale over N frames at once
        stacked = kernels.Planes(*(torch.stack([p[i] for _, p in batch]) for i in range(3)))
        upright = kernels.rotate_planes(stacked, rotation_deg=info.rotation_deg)
        picture, background = kernels.fit_parts(upright, box_width=box_width, box_height=box_height, fit=fit)
        for k, (t, _) in enumerate(batch):
            yield FittedFrame(t, picture.frame(k), background.frame(k) if background is not None else None)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def input_error_from(path: str, err: BaseException) -> InputError:
    return InputError(f"{path}: NVDEC could not decode it ({_first_line(err)})")


# -- encoders for GPU canvases ------------------------------------------------------------


class HostRingEncoder:
    """GPU canvases encoded by a CPU encoder (libx264 where the GPU has no NVENC).

    Each composed canvas is copied into a pinned host buffer with an asynchronous copy and
    a CUDA event; the CPU encoder takes a frame only once its copy has landed, ``depth - 1``
    frames later, so the GPU composes the next frames while the copies run. On a machine
    without CUDA (tests) the same ring runs on the CPU with plain copies.
    """

    def __init__(self, inner: PyAVEncoder, *, device: str, depth: int = CANVAS_RING) -> None:
        import torch

        import kernels

        self.name = inner.name
        self._inner = inner
        self._depth = max(2, depth)
        cuda = str(device).startswith("cuda")
        w, h = inner.width, inner.height
        self._canvases = [kernels.new_planes(width=w, height=h, device=device) for _ in range(self._depth)]
        self._host = [
            kernels.Planes(*(torch.empty(p.shape, dtype=torch.uint8, pin_memory=cuda) for p in self._canvases[0]))
            for _ in range(self._depth)
        ]
        self._cuda = cuda
        self._pending: deque[tuple[int, Any]] = deque()
        self._frames = 0

    def new_canvas(self) -> tuple[int, Planes]:
        slot = self._frames % self._depth
        return slot, self._canvases[slot]

    def encode(self, slot: int) -> list[av.Packet]:
        import torch

        for dst, src in zip(self._host[slot], self._canvases[slot]):
            dst.copy_(src, non_blocking=self._cuda)
        event = None
        if self._cuda:
            event = torch.cuda.Event(blocking=True)  # its wait sleeps instead of spinning a core
            event.record()
        self._pending.append((slot, event))
        self._frames += 1
        out: list[av.Packet] = []
        # keep depth - 1 copies in flight; a canvas slot is painted again only after its
        # copy was waited for, depth frames later
        while len(self._pending) >= self._depth:
            out += self._drain_one()
        return out

    def _drain_one(self) -> list[av.Packet]:
        slot, event = self._pending.popleft()
        if event is not None:
            event.synchronize()
        frame, views = self._inner.new_canvas()
        for dst, src in zip(views, self._host[slot]):
            dst.copy_(src)
        return self._inner.encode(frame)

    def flush(self) -> list[av.Packet]:
        out: list[av.Packet] = []
        while self._pending:
            out += self._drain_one()
        return out + self._inner.flush()

    def close(self) -> None:
        self._inner.close()
        self._canvases.clear()
        self._host.clear()


_NVENC_PRESETS = {"ultrafast": "P1", "superfast": "P2", "veryfast": "P3", "faster": "P3", "fast": "P4",
                  "medium": "P4", "slow": "P5", "slower": "P6", "veryslow": "P7", "placebo": "P7"}


def _is_idr(data: bytes) -> bool:
    """Whether an H.264 access unit (Annex B) holds an IDR slice (NAL type 5)."""
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        if data[i + 3] & 0x1F == 5:
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


class NvencEncoder:
    """H.264 on NVENC from CUDA canvases (PyNvVideoCodec): the canvas is packed to NV12 on
    the GPU and encoded without leaving it; the Annex B access units come back as packets
    for :class:`farm.media.Mp4Muxer`. No B-frames, parameter sets repeated on every IDR.

    PyNvVideoCodec's encoder rather than PyAV's ``h264_nvenc``: it takes a CUDA tensor as
    it is (PyAV needs a hardware frames context and ``VideoFrame.from_dlpack``, which only
    its newest releases have), and its bitstream is what the muxer's raw path takes.
    """

    name = "nvenc"

    def __init__(self, config: EncoderConfig, *, width: int, height: int, fps: int, device: str, preset: str,
                 crf: int, gpu_id: int = 0) -> None:
        import torch

        import kernels

        nvc = nvidia_codec()
        self.width, self.height, self.fps = width, height, fps
        try:
            self._enc = nvc.CreateEncoder(
                width, height, "NV12", False, codec="h264", preset=_NVENC_PRESETS.get(preset, "P4"),
                tuning_info="high_quality", rc="constqp", initqp=int(crf), fps=int(fps), gop=2 * int(fps),
                idrperiod=2 * int(fps), bf=0, repeatspspps=1, gpu_id=gpu_id,
            )
        except Exception as err:
            raise UnavailableError(f"--encoder nvenc: no NVENC session could be opened ({_first_line(err)})") from None
        self._canvases = [kernels.new_planes(width=width, height=height, device=device) for _ in range(2)]
        self._nv12 = torch.empty((height * 3 // 2, width), dtype=torch.uint8, device=device)
        self._time_base = Fraction(1, fps)
        self._frames = 0
        self._out = 0

    def new_canvas(self) -> tuple[int, Planes]:
        slot = self._frames % 2
        return slot, self._canvases[slot]

    def encode(self, slot: int) -> list[av.Packet]:
        import kernels

        kernels.planes_to_nv12(self._canvases[slot], out=self._nv12)
        self._frames += 1
        return self._packets(self._enc.Encode(self._nv12))

    def flush(self) -> list[av.Packet]:
        return self._packets(self._enc.EndEncode())

    def _packets(self, got) -> list[av.Packet]:
        if isinstance(got, (bytes, bytearray)):  # PyNvVideoCodec 2.0/2.1: one bytes object
            units = [bytes(got)] if got else []
        else:  # 2.2: a list of {"data": ..., ...}
            units = [bytes(u["data"] if isinstance(u, dict) else u) for u in (got or [])]
        out = []
        for data in units:
            if not data:
                continue
            p = av.Packet(data)
            p.pts = p.dts = self._out
            p.duration = 1
            p.time_base = self._time_base
            if _is_idr(data):
                p.is_keyframe = True
            self._out += 1
            out.append(p)
        return out

    def close(self) -> None:
        self._enc = None
        self._canvases.clear()


_gpu_probe: dict[int, tuple[bool, str]] = {}


def probe_nvenc_gpu(gpu_id: int = 0) -> tuple[bool, str]:
    """Whether PyNvVideoCodec opens an NVENC session on this GPU (H100/H200/A100: no).

    Asked in a child process (``farm.media._probe_child``) and cached: on an H200
    a failed session left the asking process's CUDA state broken, and its next pinned
    allocation aborted the process.
    """
    from farm.media._probe_child import probe_in_child

    try:
        nvidia_codec()
    except UnavailableError as err:
        return False, str(err)
    if gpu_id not in _gpu_probe:
        _gpu_probe[gpu_id] = probe_in_child("nvenc_gpu", gpu_id)
    return _gpu_probe[gpu_id]


def open_nvenc_gpu_session(gpu_id: int) -> tuple[bool, str]:
    """Open and close one NVENC session here (the child's side of :func:`probe_nvenc_gpu`)."""
    nvc = nvidia_codec()
    try:
        enc = nvc.CreateEncoder(256, 256, "NV12", False, codec="h264", gpu_id=gpu_id)
        del enc
        return True, "an NVENC session opened"
    except Exception as err:
        return False, f"no NVENC session could be opened ({_first_line(err)})"
