"""The interface every platform client implements (see ``farm.platforms._base`` for the order of calls)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from farm.errors import InputError
from farm.platforms._base import (
    STATS_PRIVACY,
    AccountInfo,
    RemoteSession,
    RemoteState,
    Secret,
    UploadRequest,
    VideoStats,
    transport_error,
)
from farm.platforms._tokens import TokenEndpoint

if TYPE_CHECKING:
    import httpx


class PlatformClient(TokenEndpoint):
    """The interface of a platform client; see the module docstring for the order of calls.

    Args:
        http: the injected ``httpx.Client`` (timeouts set by :func:`make_http_client`).
        settings: ``farm.settings.PlatformSettings`` (base URLs, app credentials, retries).
        sleep: how the client waits between retries (tests pass a fake).
    """

    platform: str = ""
    auth_scheme: str = "Bearer"
    """How a token is sent: ``Authorization: <scheme> <token>`` (Facebook's Graph API says ``OAuth``)."""

    def __init__(self, http: httpx.Client, settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.http = http
        self.settings = settings
        self.sleep = sleep

    def _request(self, method: str, url: str, *, what: str, token: Secret | None = None, **kwargs) -> httpx.Response:
        """One HTTP request with the token in its header; a transport failure becomes a RetryableError
        naming the platform and the call (never the URL)."""
        import httpx

        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"{self.auth_scheme} {token.reveal()}"
        try:
            return self.http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as err:
            raise transport_error(err, what=f"{self.platform} {what}") from None

    def account_info(self, token: Secret, *, page_id: str | None = None) -> AccountInfo:
        raise NotImplementedError

    def start(self, token: Secret, request: UploadRequest) -> RemoteSession:
        raise NotImplementedError

    def send(self, token: Secret, session: RemoteSession, request: UploadRequest, *, offset: int,
             on_bytes: Callable[[int], None] | None = None) -> RemoteState:
        """Send the chunk that starts at ``offset``; returns what the platform confirmed."""
        raise NotImplementedError

    def query(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        raise NotImplementedError

    def finish(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        raise NotImplementedError

    def find(self, token: Secret, request: UploadRequest) -> RemoteState | None:
        return None

    def video_stats(self, token: Secret, remote_ids: list[str], *,
                    privacy: dict[str, str] | None = None) -> dict[str, VideoStats]:
        """The counts of published videos, one :class:`VideoStats` per distinct id, in the order asked.

        Requests are batched as the platform allows (YouTube 50 ids a request, TikTok 20,
        Facebook one video a request) and retried inside the client like every idempotent read.
        A video the platform gives nothing for is ``available=False`` with a note, not an error.

        Args:
            token: the account's access token (sent in a header only).
            remote_ids: the platform's ids of the account's published videos (``RemoteState.remote_id``).
            privacy: the farm's privacy word per id (public | private | unlisted | self-only |
                inbox; an id left out counts as public). TikTok gives statistics of public
                posts only: the others are answered unavailable without a request.

        Returns:
            ``{remote_id: VideoStats}``; an empty list asks nothing and returns ``{}``.

        Raises:
            InputError: an empty or non-string id, or a privacy word outside the list above.
            AuthError, QuotaError, PolicyError: as the platform answers (module docstring);
            RetryableError: still failing after ``settings.max_retries`` retries.

        Example::

            stats = client.video_stats(token, ["dQw4w9WgXcQ"])
            stats["dQw4w9WgXcQ"].views
        """
        ids = list(dict.fromkeys(remote_ids))  # distinct, in the order asked
        for remote_id in ids:
            if not isinstance(remote_id, str) or not remote_id.strip():
                raise InputError(f"{self.platform} statistics: invalid video id ({remote_id!r})")
        words = dict(privacy or {})
        for remote_id, word in words.items():
            if word not in STATS_PRIVACY:
                raise InputError(f"{self.platform} statistics: invalid privacy ({word!r}) for video {remote_id}. "
                                 f"Supported: {', '.join(STATS_PRIVACY)}.")
        if not ids:
            return {}
        found = self._video_stats(token, ids, {i: words.get(i, "public") for i in ids})
        return {i: found[i] for i in ids}

    def _video_stats(self, token: Secret, ids: list[str], privacy: dict[str, str]) -> dict[str, VideoStats]:
        """Each platform's statistics call: ``ids`` distinct and checked, ``privacy`` one word per id."""
        raise NotImplementedError

    retired_metrics: frozenset[str] = frozenset()
    """Metrics the platform has retired (known from earlier passes): not asked for again."""

    def newly_retired(self) -> dict[str, str]:
        """Metrics found retired by this client's statistics calls, with the platform's words."""
        return {}
