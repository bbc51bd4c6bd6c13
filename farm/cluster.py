"""The Ray cluster this process works on: join one (or start a local one) and check an address.

A low layer: it imports nothing of the farm but farm.errors, so every package that runs
work on Ray (farm.batch's render workers, farm.publish's uploaders) starts it the same way.
"""

from __future__ import annotations

import logging
import os
import socket

from farm.errors import FarmError, InputError


def start_ray(address: str | None) -> tuple[bool, dict]:
    """Join ``address`` (or $RAY_ADDRESS), or start a local Ray; returns (started_here, info).

    ``info`` has the cluster's ``address`` (its GCS), ``resources`` (``ray.cluster_resources()``)
    and, when Ray serves one, ``dashboard_url``. A process that already called ``ray.init``
    keeps its cluster (started_here False). Whoever gets started_here True calls
    ``ray.shutdown()`` when done.

    Example::

        started, info = start_ray(None)   # a local Ray: (True, {"address": ..., "resources": {"CPU": 8.0, ...}})
    """
    import ray

    if ray.is_initialized():
        ctx = None
        started = False
    else:
        kwargs: dict = {"log_to_driver": False, "configure_logging": False}
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            kwargs["address"] = address
        else:
            kwargs.update(num_cpus=os.cpu_count() or 1, include_dashboard=True, dashboard_host="127.0.0.1")
            # Ray enables token authentication on a new local cluster by default and says so
            # on stderr at every start: the default is right, the notice is noise here.
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        try:
            ctx = ray.init(**kwargs)
        except ConnectionError as err:
            raise FarmError(f"Ray cluster at {address}: cannot connect ({err})") from None
        started = True
    info = {"address": ray.get_runtime_context().gcs_address, "resources": ray.cluster_resources()}
    url = getattr(ctx, "dashboard_url", None) if ctx is not None else None
    if url:
        info["dashboard_url"] = url if url.startswith("http") else f"http://{url}"
    return started, info


def check_reachable(address: str | None, *, timeout_s: float = 5.0) -> None:
    """Fail fast when ``address`` (or $RAY_ADDRESS) is a HOST:PORT nobody answers: ``ray.init``
    would retry for minutes. None, ``auto``, ``local`` and ``ray://`` addresses are left to Ray.

    Raises :class:`InputError` for an address that is not HOST:PORT, :class:`FarmError` when
    nothing answers there within ``timeout_s``.
    """
    target = address or os.environ.get("RAY_ADDRESS") or None
    if not target or target in ("auto", "local") or target.startswith("ray://"):
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return
    except ValueError:
        raise InputError(f"--address {target}: expected HOST:PORT, 'auto' or ray://HOST:PORT") from None
    except OSError as err:
        raise FarmError(f"Ray cluster at {target}: cannot connect ({err.strerror or err})") from None
