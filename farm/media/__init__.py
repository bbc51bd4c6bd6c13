"""Media I/O: probing, decoding into fitted frames (protocol + CPU backend), colour reading,
still images, audio, encoding (protocol + PyAV's H.264 encoders), muxing, and files written atomically."""

from farm.media._audio import (
    DUCK_DB,
    MUSIC_FADE_S,
    SAMPLE_RATE,
    AudioClip,
    build_promo_soundtrack,
    build_soundtrack,
    decode_audio,
    duck_gain,
    speech_envelope,
)
from farm.media._color import FrameKind, UnsupportedColour, declared_tags, frame_kind, hdr_peak_nits, untagged_matrix
from farm.media._cpu_decode import CpuVideoDecoder
from farm.media._decode import VideoDecoder, choose_decoder
from farm.media._devices import chosen_backends, machine_report
from farm.media._encode import (
    EncoderConfig,
    PyAVEncoder,
    VideoEncoder,
    choose_encoder,
    libx264_config,
    nvenc_config,
    open_encoder,
    probe_nvenc,
)
from farm.media._gpu import (
    GpuVideoDecoder,
    HostRingEncoder,
    NvencEncoder,
    cuda_ready,
    nvdec_refusal,
    nvidia_codec,
    probe_nvenc_gpu,
)
from farm.media._files import commit_file, fsync_dir, sha256_file, temp_path_for
from farm.media._frames import FittedFrame, as_planes, plane_view, yuv420_views
from farm.media._image import IMAGE_SUFFIXES, ImageInfo, is_image_path, load_image_rgb, probe_image
from farm.media._mux import Mp4Muxer
from farm.media._prefetch import Prefetcher
from farm.media._probe import IMAGE_CODECS, MediaInfo, audio_stream, input_error, open_input, probe, video_stream

__all__ = [
    "DUCK_DB", "MUSIC_FADE_S", "SAMPLE_RATE", "AudioClip", "build_promo_soundtrack", "build_soundtrack",
    "decode_audio", "duck_gain", "speech_envelope",
    "FrameKind", "UnsupportedColour", "declared_tags", "frame_kind", "hdr_peak_nits", "untagged_matrix",
    "CpuVideoDecoder", "VideoDecoder", "choose_decoder", "chosen_backends", "machine_report",
    "EncoderConfig", "PyAVEncoder", "VideoEncoder", "choose_encoder", "libx264_config", "nvenc_config",
    "open_encoder", "probe_nvenc",
    "GpuVideoDecoder", "HostRingEncoder", "NvencEncoder", "cuda_ready", "nvdec_refusal", "nvidia_codec",
    "probe_nvenc_gpu",
    "commit_file", "fsync_dir", "sha256_file", "temp_path_for",
    "FittedFrame", "as_planes", "plane_view", "yuv420_views",
    "IMAGE_SUFFIXES", "ImageInfo", "is_image_path", "load_image_rgb", "probe_image",
    "Mp4Muxer",
    "Prefetcher",
    "IMAGE_CODECS", "MediaInfo", "audio_stream", "input_error", "open_input", "probe", "video_stream",
]
