"""Ray actors, thin adapters over farm/ and kernels/ (RenderWorker; Uploader and Monitor come later).

Importing this package does not import Ray; the driver wraps the classes with
``ray.remote`` and the options its cluster needs (CPU slots, fractional GPUs).
"""

from actors._render_worker import RenderWorker

__all__ = ["RenderWorker"]
