"""`make run`: generate sample media and render a demo mashup with music, caption and credit."""

from __future__ import annotations

import sys
from pathlib import Path

from farm.pipeline import ProgressFn, render_mashup
from farm.samples import make_audio, make_video
from farm.spec import MashupSpec, RenderResult


def run_demo(out_dir: str | Path, *, seconds: float = 8.0, progress: ProgressFn | None = None) -> RenderResult:
    """Make two main clips, a template and a music track under ``out_dir``, then render."""
    root = Path(out_dir)
    media = root / "media"
    media.mkdir(parents=True, exist_ok=True)
    half = max(1.0, seconds / 2)
    items = {
        "main-1.mp4": lambda p: make_video(p, width=1920, height=1080, seconds=half + 0.5, seed=11, audio_hz=330.0),
        "main-2.mp4": lambda p: make_video(p, width=1080, height=1920, seconds=half + 0.5, seed=12, audio_hz=392.0),
        "template.mp4": lambda p: make_video(p, width=1080, height=1920, seconds=3.0, seed=13),
        "music.m4a": lambda p: make_audio(p, seconds=6.0, hz=523.25),
    }
    for name, make in items.items():
        path = media / name
        if not path.exists():
            print(f"generating sample {path}", file=sys.stderr)
            make(path)
    spec = MashupSpec(
        mains=(str(media / "main-1.mp4"), str(media / "main-2.mp4")),
        template=str(media / "template.mp4"),
        output=str(root / "demo-mashup.mp4"),
        music=str(media / "music.m4a"),
        caption="Giá chỉ 199.000đ – Mua ngay!",
        attribution="Source: @reelfarm-demo",
        duration_s=seconds,
    )
    return render_mashup(spec, progress=progress)
