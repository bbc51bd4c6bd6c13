"""Uploader: a lightweight Ray actor that runs upload steps next to the video files; the driver records."""

from __future__ import annotations


class Uploader:
    """Runs one upload step at a time (:meth:`farm.publish.StepRunner.run`) with a kept-alive HTTP client.

    Args:
        root: the workspace folder (its settings, key file and outbox).

    The actor never opens the catalog: each step returns a plain dict that the driver writes
    to the uploads ledger before it sends the next step. Tokens arrive encrypted and are
    decrypted here with the workspace's keys. Example (driver side)::

        Up = ray.remote(Uploader).options(num_cpus=0.25)
        up = Up.remote("/srv/farm")
        result = ray.get(up.run.remote({"kind": "query", ...}))
    """

    def __init__(self, root: str) -> None:
        from farm.publish import StepRunner

        self.runner = StepRunner(root)

    def run(self, step: dict) -> dict:
        return self.runner.run(step)
