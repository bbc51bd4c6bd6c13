"""Render specs and results: frozen, validated, JSON round-trippable dataclasses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

from farm.errors import InputError
from farm.media._encode import X264_PRESETS
from kernels import FITS, LAYOUTS

EncoderName = Literal["auto", "libx264", "nvenc"]
ENCODERS: tuple[str, ...] = get_args(EncoderName)


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"Invalid {name} ({value!r}). Supported: {', '.join(allowed)}.")


class _Json:
    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict):
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
        for f in fields(cls):
            if f.name in data and isinstance(data[f.name], list):
                data[f.name] = tuple(data[f.name]) if f.name != "timings_s" else data[f.name]
        return cls(**data)


@dataclass(frozen=True)
class MashupSpec(_Json):
    """Everything needed to render one mashup; rendering the same spec twice gives the same file."""

    mains: tuple[str, ...]
    template: str
    output: str
    layout: str = "vertical"
    fit: str = "cover"
    duration_s: float | None = None
    fade_s: float = 0.5
    music: str | None = None
    music_volume: float = 0.3
    caption: str | None = None
    attribution: str | None = None
    fps: int = 30
    preset: str = "veryfast"
    crf: int = 23
    encoder: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.mains, (list, str)):
            object.__setattr__(self, "mains", tuple([self.mains] if isinstance(self.mains, str) else self.mains))
        if not self.mains:
            raise InputError("a mashup needs at least one main video")
        _one_of("layout", self.layout, LAYOUTS)
        _one_of("fit", self.fit, FITS)
        _one_of("encoder", self.encoder, ENCODERS)
        _one_of("preset", self.preset, X264_PRESETS)
        if self.duration_s is not None and not (0 < self.duration_s <= 3600):
            raise InputError(f"Invalid duration ({self.duration_s}). Supported: more than 0 and at most 3600 seconds.")
        if not (0 <= self.fade_s <= 10):
            raise InputError(f"Invalid fade ({self.fade_s}). Supported: 0 to 10 seconds.")
        if not (0 <= self.music_volume <= 4):
            raise InputError(f"Invalid music volume ({self.music_volume}). Supported: 0 to 4.")
        if not (1 <= int(self.fps) <= 120) or int(self.fps) != self.fps:
            raise InputError(f"Invalid fps ({self.fps}). Supported: whole numbers from 1 to 120.")
        if not (0 <= int(self.crf) <= 51) or int(self.crf) != self.crf:
            raise InputError(f"Invalid crf ({self.crf}). Supported: whole numbers from 0 to 51.")

    def __repr__(self) -> str:
        return (
            f"MashupSpec({len(self.mains)} main(s) -> {self.output!r}, {self.layout}/{self.fit}, "
            f"{self.fps} fps, {self.encoder})"
        )


@dataclass(frozen=True)
class RenderResult(_Json):
    """What a finished render produced, and how long each stage took."""

    path: str
    size_bytes: int
    sha256: str
    frames: int
    fps: int
    duration_s: float
    width: int
    height: int
    encoder: str
    decoder: str
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def render_fps(self) -> float:
        total = self.timings_s.get("total", 0.0)
        return self.frames / total if total > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out["render_fps"] = round(self.render_fps, 2)
        return out
