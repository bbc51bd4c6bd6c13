"""Ray actors, thin adapters over farm/ and kernels/ (RenderWorker, Uploader, Monitor)."""
