"""Ray actors, thin adapters over farm/ and kernels/ (RenderWorker, Uploader; Monitor comes later).

Importing this package does not import Ray; the driver wraps the classes with
``ray.remote`` and the options its cluster needs (CPU slots, fractional GPUs).
"""

from actors._render_worker import RenderWorker
from actors._uploader import Uploader

__all__ = ["RenderWorker", "Uploader"]
