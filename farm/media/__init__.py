"""Media I/O backends: probing, decoding into fitted frames, audio, encoding and muxing."""

from farm.media._audio import SAMPLE_RATE, AudioClip, build_soundtrack, decode_audio
from farm.media._backends import VideoDecoder, choose_decoder
from farm.media._cpu_decode import CpuVideoDecoder
from farm.media._encode import EncoderConfig, Mp4Writer, choose_encoder, probe_nvenc
from farm.media._frames import FittedFrame, as_planes, yuv420_views
from farm.media._prefetch import Prefetcher
from farm.media._probe import MediaInfo, input_error, open_input, probe

__all__ = [
    "SAMPLE_RATE",
    "AudioClip",
    "CpuVideoDecoder",
    "EncoderConfig",
    "FittedFrame",
    "MediaInfo",
    "Mp4Writer",
    "Prefetcher",
    "VideoDecoder",
    "build_soundtrack",
    "choose_decoder",
    "choose_encoder",
    "decode_audio",
    "input_error",
    "open_input",
    "probe",
    "probe_nvenc",
    "as_planes",
    "yuv420_views",
]
