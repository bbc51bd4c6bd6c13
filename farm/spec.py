"""Render specs' import path before farm/ became packages; they live in farm.jobs."""

from farm.jobs import MashupSpec, RenderResult  # noqa: F401
