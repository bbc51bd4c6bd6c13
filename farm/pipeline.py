"""The render pipeline's import path before farm/ became packages; it lives in farm.render."""

from farm.render import (  # noqa: F401
    LOOKAHEAD_S,
    PREFETCH_DEPTH,
    TEMPLATE_CACHE_BYTES,
    BoxPainter,
    FrameSelector,
    Placement,
    ProgressFn,
    looping_frames,
    plan_timeline,
    render_mashup,
)
