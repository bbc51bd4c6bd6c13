"""Rendering a queued job of any kind: its spec (a JSON dict) to the renderer for its kind."""

from __future__ import annotations

from farm.errors import InputError
from farm.jobs import MashupSpec, PromoSpec, RenderResult
from farm.render._cache import RenderCache
from farm.render._mashup import ProgressFn, render_mashup
from farm.render._promo import render_promo

JOB_KINDS = ("mashup", "promo")


def render_job(kind: str, spec: dict, *, cache: RenderCache | None = None, threads: int | None = None,
               progress: ProgressFn | None = None) -> RenderResult:
    """Render a job's ``spec`` with the renderer for ``kind`` (mashup or promo)."""
    if kind == "mashup":
        return render_mashup(MashupSpec.from_dict(spec), cache=cache, threads=threads, progress=progress)
    if kind == "promo":
        return render_promo(PromoSpec.from_dict(spec), threads=threads, progress=progress)
    raise InputError(f"Invalid job kind ({kind!r}). Supported: {', '.join(JOB_KINDS)}.")
