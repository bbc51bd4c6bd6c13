"""Commissions from the networks' report APIs into the catalog (``farm revenue sync``), idempotent."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import catalogs
from farm.errors import FarmError, InputError
from farm.revenue._http import affiliate_http_client
from farm.revenue._networks import network, networks as registered

if TYPE_CHECKING:
    import httpx

    from farm.workspace import Workspace

OnEvent = Callable[[str, dict], None]


def _naive_utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise InputError(f"{what} must be a date and time, not {moment!r}")
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def sync_commissions(ws: Workspace, *, since: datetime, until: datetime, networks: list[str] | None = None,
                     on_event: OnEvent | None = None, client: httpx.Client | None = None,
                     sleep: Callable[[float], None] = time.sleep) -> dict:
    """Read every commission between ``since`` and ``until`` from each network that has credentials
    (or those named) and store them with ``catalogs.upsert_commissions`` (keyed rows: running it
    again updates statuses, never double-counts). Each network's rows are read whole, outside any
    transaction, then written in one.

    ``on_event(name, data)``: ``("network", {"network"})`` as a network starts, ``("page", {"network",
    "rows"})`` after each page, ``("restart", {"network", "reason"})`` when a report was read again
    from its start, ``("stored", {"network", "rows", ...})`` once written, ``("skipped", {"network",
    "reason"})``, ``("error", {"network", "error"})``.

    Returns ``{"since", "until", "rows", "networks": {name: {"rows": n, "stored": {...}} or
    {"skipped": reason} or {"error": message, "error_class": name}}}``.

    Raises:
        InputError: an unknown network, ``since`` not before ``until``, or no network with credentials.
        FarmError: the first network's error when every network tried failed (one failing does not
            stop the others; its error is in the result).
    """
    since, until = _naive_utc(since, "since"), _naive_utc(until, "until")
    if until <= since:
        raise InputError(f"since ({since:%Y-%m-%d %H:%M}) must be before until ({until:%Y-%m-%d %H:%M})")
    chosen = [network(n) for n in dict.fromkeys(networks)] if networks else registered()
    settings = ws.settings.affiliate
    emit = on_event or (lambda name, data: None)
    result: dict = {"since": since.isoformat(), "until": until.isoformat(), "rows": 0, "networks": {}}
    failures: list[FarmError] = []
    http = client if client is not None else affiliate_http_client(settings)
    try:
        for net in chosen:
            if not net.has_credentials(settings):
                reason = net.missing(settings) or "no credentials"
                result["networks"][net.name] = {"skipped": reason}
                emit("skipped", {"network": net.name, "reason": reason})
                continue
            emit("network", {"network": net.name})
            try:
                rows = list(net.fetch_commissions(
                    settings, since=since, until=until, client=http, sleep=sleep,
                    on_page=lambda name, data, n=net.name: emit(name, {"network": n, **data})))
                with ws.catalog.write() as con:
                    stored = catalogs.upsert_commissions(con, rows, source=f"{net.name} api")
            except FarmError as err:
                failures.append(err)
                result["networks"][net.name] = {"error": str(err), "error_class": type(err).__name__}
                emit("error", {"network": net.name, "error": str(err)})
                continue
            result["networks"][net.name] = {"rows": len(rows), "stored": stored}
            result["rows"] += len(rows)
            emit("stored", {"network": net.name, "rows": len(rows), **(stored if isinstance(stored, dict) else {})})
    finally:
        if client is None:
            http.close()
    tried = [v for v in result["networks"].values() if "skipped" not in v]
    if not tried:
        wanted = ", ".join(n.name for n in chosen)
        raise InputError(f"no affiliate API credentials for {wanted}: "
                         + "; ".join(v["skipped"] for v in result["networks"].values()))
    if failures and len(failures) == len(tried):
        raise failures[0]
    return result
