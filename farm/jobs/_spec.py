"""Render specs and results: frozen, validated, JSON round-trippable dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from farm.errors import InputError
from farm.platforms import platform_names
from farm.records import JsonRecord
from farm.settings import check_value, option, render_default

EncoderName = Literal["auto", "libx264", "nvenc"]
# RenderResult.timings_s keys -> the stage names of the process log and the metrics
TIMING_STAGES = {"probe": "probe", "wait_decode": "decode", "compose": "compose", "encode": "encode",
                 "audio": "audio", "finish": "mux"}


WHOLE_NUMBER_FIELDS = ("fps", "crf")


def check_render_fields(spec, keys: tuple[str, ...]) -> None:
    """A spec's fields that farm.toml's [render] section also sets, checked by its rules (the
    same message as the CLI and the settings file give)."""
    for key in keys:
        value = getattr(spec, key)
        if key in WHOLE_NUMBER_FIELDS and int(value) != value:
            raise InputError(option("render", key).spec_message(value))
        check_value("render", key, value)


def check_platform(platform: str | None) -> None:
    if platform is not None and platform not in platform_names():
        raise InputError(f"Invalid platform ({platform!r}). Supported: {', '.join(platform_names())}.")


@dataclass(frozen=True)
class MashupSpec(JsonRecord):
    """Everything needed to render one mashup; rendering the same spec twice gives the same file."""

    mains: tuple[str, ...]
    template: str
    output: str
    layout: str = render_default("layout")
    fit: str = render_default("fit")
    duration_s: float | None = None
    fade_s: float = render_default("fade_s")
    music: str | None = None
    music_volume: float = render_default("music_volume")
    caption: str | None = None
    attribution: str | None = None
    fps: int = render_default("fps")
    preset: str = render_default("preset")
    crf: int = render_default("crf")
    encoder: EncoderName = render_default("encoder")
    decoder: str = render_default("decoder")

    def __post_init__(self) -> None:
        if isinstance(self.mains, (list, str)):
            object.__setattr__(self, "mains", tuple([self.mains] if isinstance(self.mains, str) else self.mains))
        if not self.mains:
            raise InputError("a mashup needs at least one main video")
        check_render_fields(self, ("layout", "fit", "encoder", "decoder", "preset", "fade_s", "music_volume"))
        if self.duration_s is not None and not (0 < self.duration_s <= 3600):
            raise InputError(f"Invalid duration ({self.duration_s}). Supported: more than 0 and at most 3600 seconds.")
        check_render_fields(self, ("fps", "crf"))

    def __repr__(self) -> str:
        return (
            f"MashupSpec({len(self.mains)} main(s) -> {self.output!r}, {self.layout}/{self.fit}, "
            f"{self.fps} fps, {self.encoder})"
        )


PROMO_DURATION_S = (20.0, 30.0)


@dataclass(frozen=True)
class PromoSpec(JsonRecord):
    """Everything needed to render one product promo; its words are written before (by the AI
    or the template writer) and travel in the spec, so the render itself never waits on them.

    ``voice_lines`` are WAV files spoken in order: the hook, each selling line, the call to
    action; when given, each on-screen line is shown while it is spoken.
    """

    images: tuple[str, ...]
    title: str
    price: str
    output: str
    hook: str | None = None
    selling_lines: tuple[str, ...] = ()
    call_to_action: str = ""
    duration_s: float = 24.0
    template: str | None = None
    music: str | None = None
    music_volume: float = 1.0
    voice_lines: tuple[str, ...] = ()
    platform: str | None = None
    seed: int = 0
    fps: int = render_default("fps")
    preset: str = render_default("preset")
    crf: int = render_default("crf")
    encoder: EncoderName = render_default("encoder")
    decoder: str = render_default("decoder")

    def __post_init__(self) -> None:
        for name in ("images", "selling_lines", "voice_lines"):
            value = getattr(self, name)
            if isinstance(value, (list, str)):
                object.__setattr__(self, name, tuple([value] if isinstance(value, str) else value))
        if not 1 <= len(self.images) <= 10:
            raise InputError(f"Invalid image count ({len(self.images)}). Supported: 1 to 10.")
        low, high = PROMO_DURATION_S
        if not low <= float(self.duration_s) <= high:
            raise InputError(f"Invalid duration ({self.duration_s}). Supported: {low:g} to {high:g} seconds.")
        if not self.title.strip():
            raise InputError("a promo needs a title (the product's name)")
        if self.voice_lines and len(self.voice_lines) != len(self.spoken_texts):
            raise InputError(f"{len(self.voice_lines)} voice lines for {len(self.spoken_texts)} lines of text "
                             "(hook, selling lines, call to action)")
        check_platform(self.platform)
        check_render_fields(self, ("music_volume", "encoder", "decoder", "preset", "fps", "crf"))

    @property
    def spoken_texts(self) -> tuple[str, ...]:
        """The lines in the order they are shown (and spoken): hook, selling lines, call to action."""
        return tuple(t for t in (self.hook or self.title, *self.selling_lines, self.call_to_action) if t)

    def __repr__(self) -> str:
        return (f"PromoSpec({self.title!r}, {len(self.images)} image(s) -> {self.output!r}, {self.duration_s:g} s, "
                f"{'template, ' if self.template else ''}{'voice, ' if self.voice_lines else ''}{self.encoder})")


@dataclass(frozen=True)
class RenderResult(JsonRecord):
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
    notes: tuple[str, ...] = ()
    gpu_peak_bytes: int = 0

    @property
    def render_fps(self) -> float:
        total = self.timings_s.get("total", 0.0)
        return self.frames / total if total > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out["render_fps"] = round(self.render_fps, 2)
        return out
