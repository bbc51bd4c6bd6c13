"""The render pipeline's import path before farm/ became packages; it lives in farm.render."""

from farm.render import render_mashup  # noqa: F401
