"""One video, no Ray, no catalog: the timeline, the picture tracks, text overlays, the worker's
cache, the mashup frame loop and the promo renderer.

Text names load on first use (PEP 562): they need torch, and a render starts its decoders
while torch, which takes about a second to import, loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from farm.render._cache import DEFAULT_CACHE_BYTES, MUSIC_CACHE_S, CacheStats, RenderCache, file_key
from farm.render._mashup import (
    AudioFeed,
    Compositor,
    MashupPlan,
    ProgressFn,
    encoder_config,
    plan_mashup,
    render_mashup,
    start_soundtrack,
)
from farm.render._jobs import render_job
from farm.render._promo import END_CARD_S, TITLE_S, PromoPlan, Segment, Slot, TextLayer, plan_promo, render_promo
from farm.render._timeline import FrameSelector, Placement, looping_frames, plan_timeline
from farm.render._tracks import LOOKAHEAD_S, PREFETCH_DEPTH, TEMPLATE_CACHE_BYTES, BoxPainter, MainTrack, TemplateTrack

_LAZY = {name: "_text" for name in (
    "Face", "covered_codepoints", "emoji_font_path", "font_chain", "font_path", "font_runs",
    "graphemes", "load_font", "mashup_overlays", "missing_glyphs", "normalize", "render_text_rgba", "safe_area",
    "shaping", "text_overlay", "text_width", "wrap",
)}  # fmt: skip

__all__ = [
    "DEFAULT_CACHE_BYTES", "MUSIC_CACHE_S", "CacheStats", "RenderCache", "file_key",
    "AudioFeed", "Compositor", "MashupPlan", "ProgressFn", "encoder_config", "plan_mashup", "render_mashup",
    "start_soundtrack",
    "render_job",
    "END_CARD_S", "TITLE_S", "PromoPlan", "Segment", "Slot", "TextLayer", "plan_promo", "render_promo",
    "FrameSelector", "Placement", "looping_frames", "plan_timeline",
    "LOOKAHEAD_S", "PREFETCH_DEPTH", "TEMPLATE_CACHE_BYTES", "BoxPainter", "MainTrack", "TemplateTrack",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'farm.render' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"farm.render.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # static tools see the plain imports
    from farm.render._text import (  # noqa: F401
        Face,
        covered_codepoints,
        emoji_font_path,
        font_chain,
        font_path,
        font_runs,
        graphemes,
        load_font,
        mashup_overlays,
        missing_glyphs,
        normalize,
        render_text_rgba,
        safe_area,
        shaping,
        text_overlay,
        text_width,
        wrap,
    )
