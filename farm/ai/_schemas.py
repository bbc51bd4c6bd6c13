"""The answers we ask the AI server for: pydantic models giving the strict JSON schema we send and checking replies.

Each model is sent as ``response_format={"type": "json_schema", "json_schema": {..., "strict": True}}``.
OpenAI's strict mode wants every object closed (``additionalProperties: false``) with every property
required, and it ignores or rejects string keywords such as ``maxLength`` and ``pattern``; so the schema
we send keeps the types, enums and array sizes, carries each string limit in its ``description`` for the
model to read, and the limits themselves are enforced here, after parsing, where a broken one gives a
reason that names the field. Every string is NFC-normalised before it is measured, so a Vietnamese
answer sent with decomposed diacritics is measured (and kept) as the composed text a reader sees.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from typing import Annotated, Any, Sequence

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from farm.errors import InputError
from farm.publish import limits_for, text_size

HOOK_MAX_CHARS = 90
SELLING_LINE_MAX_CHARS = 90
CALL_TO_ACTION_MAX_CHARS = 40
CAPTION_MAX_CHARS = 60
HASHTAG_PATTERN = r"^#?\w+$"  # \w is Unicode here (pydantic's Rust regex): '#áoThun' is one hashtag
VIDEO_TITLE_MAX_UTF16 = 90  # a mashup's one title for every platform: short enough for the tightest title cap
VIDEO_DESCRIPTION_MAX_CHARS = 2000  # under TikTok's and Facebook's 2,200, room left for the credit line

PROMO_SCHEMA_NAME = "promo_answer"
VIDEO_SCHEMA_NAME = "video_answer"


class AnswerError(InputError):
    """The AI server's answer is unusable (not JSON, or it breaks the schema or a limit): the caller falls
    back to the template writer with :attr:`reason`; the answer is never cached."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else value


def _text(max_chars: int, what: str) -> Any:
    return Annotated[str, StringConstraints(min_length=1, max_length=max_chars), BeforeValidator(_nfc),
                     Field(description=f"{what}; at most {max_chars} characters")]


Hook = _text(HOOK_MAX_CHARS, "the first line, said in the first 2 seconds")
SellingLine = _text(SELLING_LINE_MAX_CHARS, "one short selling point")
CallToAction = _text(CALL_TO_ACTION_MAX_CHARS, "what the viewer should do now")
Caption = _text(CAPTION_MAX_CHARS, "one on-screen caption")
Hashtag = Annotated[str, StringConstraints(pattern=HASHTAG_PATTERN, max_length=50), BeforeValidator(_nfc),
                    Field(description="one hashtag: '#' then letters, digits or '_' only, no spaces")]
NonEmpty = Annotated[str, StringConstraints(min_length=1), BeforeValidator(_nfc)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformPost(_Closed):
    """The post text for one platform."""

    platform: NonEmpty = Field(description="the platform's name, one of those asked for")
    title: NonEmpty = Field(description="the post's title, within the platform's title limit given in the task")
    description: NonEmpty = Field(description="the post's caption/description, within the platform's limit given "
                                              "in the task")


class PromoAnswer(_Closed):
    """A product promo: the spoken/on-screen script, captions, hashtags, per-platform post text, a mood."""

    hook: Hook
    selling_lines: list[SellingLine] = Field(min_length=2, max_length=5)
    call_to_action: CallToAction
    captions: list[Caption] = Field(min_length=3, max_length=8)
    hashtags: list[Hashtag] = Field(min_length=3, max_length=10)
    posts: list[PlatformPost] = Field(description="one entry for each platform asked for")
    mood: NonEmpty = Field(description="the background music's mood: one of the moods listed")


class VideoAnswer(_Closed):
    """A mashup post: one title and description for every platform, and hashtags."""

    title: Annotated[str, StringConstraints(min_length=1), BeforeValidator(_nfc),
                     Field(description=f"the post's title; at most {VIDEO_TITLE_MAX_UTF16} characters")]
    description: Annotated[str, StringConstraints(min_length=1, max_length=VIDEO_DESCRIPTION_MAX_CHARS),
                           BeforeValidator(_nfc),
                           Field(description=f"the post's description; at most {VIDEO_DESCRIPTION_MAX_CHARS} chars")]
    hashtags: list[Hashtag] = Field(min_length=3, max_length=10)


# Keywords OpenAI's strict mode does not take on strings; the limits stay in the descriptions and are
# checked after parsing.
_STRING_KEYWORDS = ("minLength", "maxLength", "pattern")


def _strictify(node: Any) -> Any:
    if isinstance(node, dict):
        string = node.get("type") == "string"
        out = {k: _strictify(v) for k, v in node.items() if not (string and k in _STRING_KEYWORDS)}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
            out["required"] = list(out["properties"])
        return out
    if isinstance(node, list):
        return [_strictify(v) for v in node]
    return node


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema as OpenAI's strict mode takes it: closed objects, all properties required,
    no string length or pattern keywords (they are in the descriptions)."""
    return _strictify(model.model_json_schema())


def promo_schema(*, platforms: Sequence[str], moods: Sequence[str]) -> dict[str, Any]:
    """:class:`PromoAnswer`'s strict schema with ``mood`` and ``platform`` narrowed to what was asked."""
    schema = copy.deepcopy(strict_schema(PromoAnswer))
    schema["properties"]["mood"]["enum"] = list(moods)
    schema["$defs"]["PlatformPost"]["properties"]["platform"]["enum"] = list(platforms)
    posts = schema["properties"]["posts"]
    posts["minItems"] = posts["maxItems"] = len(platforms)
    return schema


def video_schema() -> dict[str, Any]:
    """:class:`VideoAnswer`'s strict schema."""
    return strict_schema(VideoAnswer)


def _problems(err: pydantic.ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        loc = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(e["loc"]))
        got = e.get("input")
        extra = f" (got {len(got)} characters)" if e["type"] == "string_too_long" and isinstance(got, str) else ""
        if e["type"] == "string_pattern_mismatch":
            extra = f" (got {got!r:.40})"
        parts.append(f"{loc or 'answer'}: {e['msg']}{extra}")
    more = f"; and {len(parts) - 4} more" if len(parts) > 4 else ""
    return "; ".join(parts[:4]) + more


def _load(content: str | None, model: type[BaseModel]) -> Any:
    if not isinstance(content, str) or not content.strip():
        raise AnswerError("AI answer is empty")
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise AnswerError(f"AI answer is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise AnswerError(f"AI answer breaks the schema: {_problems(exc)}") from None


def _fits(text: str, limits: dict[str, int]) -> str | None:
    for unit, limit in limits.items():
        size = text_size(text, unit)  # type: ignore[arg-type]
        if size > limit:
            return f"{size} {unit.replace('_', '-')}, limit {limit}"
    return None


def parse_promo_answer(content: str | None, *, platforms: Sequence[str], moods: Sequence[str]) -> PromoAnswer:
    """The server's answer checked: JSON, the schema and its limits, a mood from ``moods``, exactly one
    post for each of ``platforms`` within that platform's title and description limits.

    Raises:
        AnswerError: with the reason (which field, which limit).
    """
    answer: PromoAnswer = _load(content, PromoAnswer)
    if answer.mood not in moods:
        raise AnswerError(f"AI answer breaks the schema: mood {answer.mood!r} is not one of the library's moods "
                          f"({', '.join(moods)})")
    seen = [p.platform for p in answer.posts]
    for platform in seen:
        if platform not in platforms:
            raise AnswerError(f"AI answer breaks the schema: a post for {platform!r}, which was not asked for "
                              f"(asked: {', '.join(platforms)})")
        if seen.count(platform) > 1:
            raise AnswerError(f"AI answer breaks the schema: {seen.count(platform)} posts for {platform!r}")
    missing = [p for p in platforms if p not in seen]
    if missing:
        raise AnswerError(f"AI answer breaks the schema: no post for {', '.join(missing)}")
    for post in answer.posts:
        limits = limits_for(post.platform)
        for field in ("title", "description"):
            why = _fits(getattr(post, field), limits[field])
            if why:
                raise AnswerError(f"AI answer breaks the schema: {post.platform} {field} is too long ({why})")
    return answer


def parse_video_answer(content: str | None) -> VideoAnswer:
    """The server's mashup-post answer checked (JSON, schema, limits).

    Raises:
        AnswerError: with the reason.
    """
    answer: VideoAnswer = _load(content, VideoAnswer)
    why = _fits(answer.title, {"utf16_units": VIDEO_TITLE_MAX_UTF16})
    if why:
        raise AnswerError(f"AI answer breaks the schema: title is too long ({why})")
    return answer


__all__ = [
    "AnswerError", "PlatformPost", "PromoAnswer", "VideoAnswer", "promo_schema", "video_schema",
    "strict_schema", "parse_promo_answer", "parse_video_answer",
]
