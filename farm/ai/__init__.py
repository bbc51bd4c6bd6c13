"""AI text: the deterministic fallback writer (promo and mashup post text) used when no AI server answers."""

from farm.ai._fallback import (
    CREDIT_PREFIX,
    DEFAULT_MOOD,
    PromoText,
    VideoText,
    fallback_promo_text,
    fallback_video_text,
    format_price,
    pick_mood,
)

__all__ = [
    "CREDIT_PREFIX", "DEFAULT_MOOD", "PromoText", "VideoText", "fallback_promo_text", "fallback_video_text",
    "format_price", "pick_mood",
]
