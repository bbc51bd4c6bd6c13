"""The registry of platform descriptors: each platform module registers its descriptor once."""

from __future__ import annotations

from farm.errors import InputError
from farm.platforms._descriptor import Platform

_REGISTRY: dict[str, Platform] = {}


def register(platform: Platform) -> Platform:
    """Add ``platform`` (a descriptor instance) to the registry; registering the same name again
    replaces the earlier one (a test's fake platform, or a module reloaded)."""
    if not isinstance(platform, Platform) or not platform.name or not platform.name.isidentifier():
        raise InputError(f"register: not a platform descriptor with a name ({platform!r})")
    if platform.client_class is None:
        raise InputError(f"register: platform {platform.name} has no client class")
    if not platform.outbox and platform.text is None:
        raise InputError(f"register: platform {platform.name} has no text rules")
    _REGISTRY[platform.name] = platform
    return platform


def unregister(name: str) -> None:
    """Drop a platform from the registry (tests that registered one of their own)."""
    _REGISTRY.pop(name, None)


def platform(name: str) -> Platform:
    """The descriptor named ``name``.

    Raises:
        InputError: no platform of that name; the message lists those there are.
    """
    found = _REGISTRY.get(name) if isinstance(name, str) else None
    if found is None:
        raise InputError(f"Invalid platform ({name!r}). Supported: {', '.join(platform_names(outbox=True))}.")
    return found


def platforms(*, outbox: bool = False) -> list[Platform]:
    """Every registered descriptor in registration order; the outbox only when ``outbox``."""
    return [p for p in _REGISTRY.values() if outbox or not p.outbox]


def platform_names(*, outbox: bool = False) -> tuple[str, ...]:
    """The names of :func:`platforms`: the platforms posts are written for, plus the outbox when asked."""
    return tuple(p.name for p in platforms(outbox=outbox))
