"""Pure tensor functions on planar YUV 4:2:0 frames, device-agnostic (CPU and CUDA).

Names load on first use (PEP 562): geometry (``layout_geometry``, ``fit_geometry``)
needs no torch, so a render can plan and start its decoders while torch, which takes
about a second to import, loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "_geometry": (
        "BLUR_DOWNSCALE", "FITS", "LAYOUTS", "Box", "FitGeometry", "FitName", "LayoutGeometry",
        "LayoutName", "fit_geometry", "layout_geometry", "small_cover_size",
    ),
    "_planes": ("BLACK_Y", "NEUTRAL_C", "Planes", "copy_into", "fill_black", "new_planes"),
    "_fit": (
        "BLUR_DARKEN", "blur_background", "fit_frame", "fit_parts", "gaussian_blur_plane", "letterbox", "resize",
        "resize_plane",
    ),
    "_nv12": ("nv12_planes", "planes_to_nv12", "rotate_planes"),
    "_layout": ("compose_two_thirds", "paste", "region"),
    "_fade": ("crossfade", "fade_frames_to_black", "fade_level", "fade_to_black"),
    "_color": ("YuvaOverlay", "rgb_to_yuv420", "rgba_to_yuva420", "yuv420_to_rgb"),
    "_overlay": ("alpha_overlay",),
    "_panzoom": ("Viewport", "pan_zoom", "pan_zoom_path"),
    "_source": (
        "HLG_PEAK_NITS", "MATRICES", "PRIMARIES", "RANGES", "SDR_WHITE_NITS", "TRANSFERS", "MatrixName",
        "PrimariesName", "RangeName", "SourceColour", "TransferName",
    ),
    "_convert": (
        "BT2020_TO_BT709", "bt2390_eetf", "convert_to_bt709", "fit_gamut", "hlg_inverse_oetf", "pq_eotf",
        "pq_inverse_eotf",
    ),
}  # fmt: skip
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kernels' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kernels.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static tools see the plain imports
    from kernels._color import YuvaOverlay, rgb_to_yuv420, rgba_to_yuva420, yuv420_to_rgb  # noqa: F401
    from kernels._convert import (  # noqa: F401
        BT2020_TO_BT709,
        bt2390_eetf,
        convert_to_bt709,
        fit_gamut,
        hlg_inverse_oetf,
        pq_eotf,
        pq_inverse_eotf,
    )
    from kernels._fade import crossfade, fade_frames_to_black, fade_level, fade_to_black  # noqa: F401
    from kernels._fit import (  # noqa: F401
        BLUR_DARKEN,
        blur_background,
        fit_frame,
        fit_parts,
        gaussian_blur_plane,
        letterbox,
        resize,
        resize_plane,
    )
    from kernels._geometry import (  # noqa: F401
        BLUR_DOWNSCALE,
        FITS,
        LAYOUTS,
        Box,
        FitGeometry,
        FitName,
        LayoutGeometry,
        LayoutName,
        fit_geometry,
        layout_geometry,
        small_cover_size,
    )
    from kernels._layout import compose_two_thirds, paste, region  # noqa: F401
    from kernels._nv12 import nv12_planes, planes_to_nv12, rotate_planes  # noqa: F401
    from kernels._overlay import alpha_overlay  # noqa: F401
    from kernels._panzoom import Viewport, pan_zoom, pan_zoom_path  # noqa: F401
    from kernels._source import (  # noqa: F401
        HLG_PEAK_NITS,
        MATRICES,
        PRIMARIES,
        RANGES,
        SDR_WHITE_NITS,
        TRANSFERS,
        MatrixName,
        PrimariesName,
        RangeName,
        SourceColour,
        TransferName,
    )
    from kernels._planes import BLACK_Y, NEUTRAL_C, Planes, copy_into, fill_black, new_planes  # noqa: F401
