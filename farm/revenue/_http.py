"""What the networks' clients share: the HTTP client factory and the mapping of transport failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from farm.errors import RetryableError
from farm.platforms import scrub

if TYPE_CHECKING:
    import httpx


def affiliate_http_client(settings, *, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An ``httpx.Client`` for the networks' APIs: every request bounded by ``[affiliate] timeout_s``."""
    import httpx  # here, not at import time: most commands never talk to a network

    limit = float(settings.timeout_s)
    return httpx.Client(timeout=httpx.Timeout(limit, connect=min(limit, 10.0)), transport=transport,
                        follow_redirects=False, headers={"User-Agent": "reel-farm"})


def send(client: httpx.Client, method: str, url: str, *, what: str, secrets: tuple[Any, ...] = (),
         **kwargs) -> httpx.Response:
    """``client.request(...)`` with httpx's transport failures as :class:`RetryableError` naming
    ``what`` (never the URL, which may carry a key), the secrets scrubbed from the message."""
    import httpx

    try:
        return client.request(method, url, **kwargs)
    except httpx.TimeoutException as err:
        raise RetryableError(f"{what}: timed out ({type(err).__name__})", unanswered=True) from None
    except httpx.ConnectError as err:
        raise RetryableError(scrub(f"{what}: cannot connect ({type(err).__name__})", *secrets)) from None
    except httpx.TransportError as err:
        raise RetryableError(scrub(f"{what}: connection dropped ({type(err).__name__})", *secrets),
                             unanswered=True) from None


def retry_after_s(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return max(float(raw), 0.0) if raw is not None else None
    except ValueError:
        return None


def json_object(response: httpx.Response) -> dict:
    """The answer's JSON object, or ``{}`` (an HTML error page from a proxy is not JSON)."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def snippet(text: Any, *secrets: Any, limit: int = 200) -> str:
    """A network's own words, shortened and without any secret, for a message."""
    return scrub(" ".join(str(text).split())[:limit], *secrets)
