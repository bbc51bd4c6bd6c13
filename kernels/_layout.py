"""The 2/3 + 1/3 mashup layout: canvas size, the two boxes, and pasting into them."""

from __future__ import annotations

from kernels._geometry import Box, layout_geometry
from kernels._planes import Planes

def region(canvas: Planes, box: Box) -> Planes:
    """A writable view of ``box`` on ``canvas``."""
    return canvas.crop(x=box.x, y=box.y, width=box.width, height=box.height)


def paste(canvas: Planes, src: Planes, *, x: int, y: int) -> None:
    """Copy ``src`` onto ``canvas`` with its top-left corner at (x, y), both even."""
    dst = canvas.crop(x=x, y=y, width=src.width, height=src.height)
    for d, s in zip(dst, src):
        d.copy_(s)


def compose_two_thirds(canvas: Planes, main: Planes, template: Planes, *, layout: str) -> None:
    """Paste box-sized ``main`` and ``template`` frames into their boxes on ``canvas``."""
    geo = layout_geometry(layout)
    if (canvas.width, canvas.height) != (geo.width, geo.height):
        raise ValueError(
            f"canvas is {canvas.width}x{canvas.height}, {layout} needs {geo.width}x{geo.height}"
        )
    for box, src, name in ((geo.main, main, "main"), (geo.template, template, "template")):
        if (src.width, src.height) != (box.width, box.height):
            raise ValueError(
                f"{name} frame is {src.width}x{src.height}, its box is {box.width}x{box.height}"
            )
        paste(canvas, src, x=box.x, y=box.y)
