"""What this machine offers the farm: CUDA, NVDEC per codec, NVENC, CPU encoders, and what a render
would use (``farm doctor``, and each render worker once at start)."""

from __future__ import annotations

import platform

import av

from farm.errors import FarmError

# The inputs users have: (codec, chroma, bits) asked of NVDEC
NVDEC_PROBES = (("h264", "420", 8), ("h264", "420", 10), ("hevc", "420", 8), ("hevc", "420", 10),
                ("av1", "420", 8), ("av1", "420", 10), ("vp9", "420", 8), ("vp9", "420", 10), ("h264", "422", 8))


def _cpu_encoders() -> dict[str, bool]:
    out = {}
    for name in ("libx264", "libx265", "libsvtav1", "h264_nvenc"):
        try:
            av.codec.Codec(name, "w")
            out[name] = True
        except Exception:
            out[name] = False
    return out


def machine_report(*, gpu_id: int = 0) -> dict:
    """Every backend the farm could use here, with the reason for each one it cannot."""
    from farm.media._encode import probe_nvenc
    from farm.media._gpu import NVDEC_CODECS, NvdecCaps, cuda_ready, nvidia_codec, probe_nvenc_gpu

    report: dict = {
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "pyav": av.__version__,
        "ffmpeg": ".".join(str(x) for x in av.ffmpeg_version_info) if isinstance(av.ffmpeg_version_info, tuple)
        else str(av.ffmpeg_version_info),
        "encoders_in_pyav": _cpu_encoders(),
    }
    try:
        import torch

        report["torch"] = torch.__version__
    except Exception as err:  # pragma: no cover - torch is a dependency
        report["torch"] = f"not usable ({err})"
    ok, what = cuda_ready()
    report["cuda"] = {"available": ok, ("device" if ok else "why"): what}
    try:
        nvc = nvidia_codec()
        report["pynvvideocodec"] = {"loaded": True, "version": getattr(nvc, "__version__", "unknown")}
    except FarmError as err:
        nvc = None
        report["pynvvideocodec"] = {"loaded": False, "why": str(err)}
    nvdec: dict = {}
    if ok and nvc is not None:
        caps = NvdecCaps(gpu_id)
        for codec, chroma, bits in NVDEC_PROBES:
            if codec in NVDEC_CODECS:
                entry = caps(codec, chroma, bits)
                nvdec[f"{codec} 4:{chroma[1]}:{chroma[2]} {bits}-bit"] = bool(entry.get("supported"))
    report["nvdec"] = nvdec or {"why": "no CUDA device" if not ok else report["pynvvideocodec"].get("why", "")}
    pyav_ok, pyav_why = probe_nvenc()
    report["nvenc"] = {"pyav_h264_nvenc": {"opens": pyav_ok, "why": pyav_why}}
    if ok:
        gpu_ok, gpu_why = probe_nvenc_gpu(gpu_id)
        report["nvenc"]["pynvvideocodec"] = {"opens": gpu_ok, "why": gpu_why}
    report["chosen"] = chosen_backends()
    return report


def chosen_backends(*, decoder: str = "auto", encoder: str = "auto") -> dict:
    """The decoder and encoder a render with these settings would use here, and why."""
    from farm.media._decode import choose_decoder
    from farm.media._encode import choose_encoder

    try:
        dec = choose_decoder(decoder)
        device = str(getattr(dec, "device", "cpu"))
        enc = choose_encoder(encoder, preset="veryfast", crf=23, device=device)
    except FarmError as err:
        return {"error": str(err)}
    return {"decoder": dec.name, "device": device, "encoder": enc.name,
            "compose": "CUDA" if device.startswith("cuda") else "CPU"}
