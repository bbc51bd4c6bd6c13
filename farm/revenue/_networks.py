"""The affiliate networks: one descriptor each (its hosts, its link maker, its report reader), registered once.

Like the platforms (and yt-dlp's extractors), each network is one module that builds a
:class:`Network` and is registered in ``farm.revenue``; the rest of the farm asks
:func:`network_for` and the descriptor, and never compares a network's name.

A network's functions::

    network.make_link(origin_url, sub_id, *, settings, client, campaign_id=None, sleep=time.sleep) -> str
    network.fetch_commissions(settings, *, since, until, client, on_page=None, sleep=time.sleep) -> Iterator[Commission]
    network.has_credentials(settings) -> bool
    network.missing(settings, *, campaign_id=None) -> str | None   # why a link cannot be tracked, or None

``settings`` is ``[affiliate]`` (:class:`farm.settings.AffiliateSettings`); ``client`` an injected
``httpx.Client``; ``on_page(event, data)`` hears ``("page", {"page": n, "rows": k})`` after each
page and ``("restart", {"reason": ...})`` when a report had to be read again from its start.
Errors are mapped at each network's boundary: refused credentials -> ``AuthError`` naming the
settings; a refused request -> ``InputError``; rate limits, 5xx, timeouts, dropped connections ->
``RetryableError`` (``retry_after_s`` where the network said); no secret in any message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from farm.errors import InputError

_REGISTRY: dict[str, Network] = {}


@dataclass(frozen=True)
class Network:
    """One affiliate network: its name, the hosts of its links (a host matches itself and its
    subdomains), what its tracking is called, and its functions."""

    name: str
    title: str
    hosts: tuple[str, ...]
    tracking: str
    make_link: Callable[..., str]
    fetch_commissions: Callable[..., Iterator]
    has_credentials: Callable[..., bool]
    missing: Callable[..., str | None]

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise InputError(f"a network needs a name made of letters, digits and '_' ({self.name!r})")

    def recognises(self, url: str) -> bool:
        """Whether ``url``'s host is one of the network's (or a subdomain of one)."""
        host = _host(url)
        return bool(host) and any(host == h or host.endswith("." + h) for h in self.hosts)

    def __repr__(self) -> str:
        return f"Network({self.name}, hosts={len(self.hosts)})"


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    except (ValueError, AttributeError):
        return ""


def register(network: Network) -> Network:
    """Add ``network`` to the registry (the same name again replaces it)."""
    if not isinstance(network, Network):
        raise InputError(f"register: not a network descriptor ({network!r})")
    _REGISTRY[network.name] = network
    return network


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def networks() -> list[Network]:
    """Every registered network, in registration order."""
    return list(_REGISTRY.values())


def network_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def network(name: str) -> Network:
    """The network named ``name``; an InputError listing the registered ones otherwise."""
    found = _REGISTRY.get(name) if isinstance(name, str) else None
    if found is None:
        raise InputError(f"Invalid affiliate network ({name!r}). Supported: {', '.join(_REGISTRY)}.")
    return found


def network_for(url: str | None, declared: str | None = None) -> Network | None:
    """The network a link belongs to: the product's ``network`` where it names a registered one
    (``other`` names none: the link is used as it is), else the one whose hosts the link's host is
    among; None for a network the farm has no API for."""
    if declared:
        return _REGISTRY.get(declared)
    if not url:
        return None
    return next((n for n in _REGISTRY.values() if n.recognises(url)), None)
