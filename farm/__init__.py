"""reel farm: the driver side (CLI, planning, render pipeline, media I/O, text)."""

__version__ = "0.1.0"
