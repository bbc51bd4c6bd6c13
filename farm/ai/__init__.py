"""AI text: an OpenAI-compatible writer (cache, bounded retries, circuit breaker, speech) and the deterministic fallback writer."""

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

from farm.ai._client import (  # noqa: E402  (appended: the AI writer, its cache and results)
    AiWriter,
    AnswerCache,
    CatalogAnswerCache,
    MemoryAnswerCache,
    SpeechResult,
    TextResult,
)
from farm.ai._schemas import (  # noqa: E402
    AnswerError,
    PromoAnswer,
    VideoAnswer,
    parse_promo_answer,
    parse_video_answer,
    promo_schema,
    video_schema,
)

__all__ += [
    "AiWriter", "AnswerCache", "AnswerError", "CatalogAnswerCache", "MemoryAnswerCache", "PromoAnswer",
    "SpeechResult", "TextResult", "VideoAnswer", "parse_promo_answer", "parse_video_answer", "promo_schema",
    "video_schema",
]
