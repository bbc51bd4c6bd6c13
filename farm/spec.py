"""Render specs' import path before farm/ became packages; they live in farm.jobs."""

from farm.jobs import EncoderName, MashupSpec, RenderResult  # noqa: F401
from farm.settings import ENCODERS  # noqa: F401
