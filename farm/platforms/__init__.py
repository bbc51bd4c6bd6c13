"""Platform clients: YouTube, TikTok, Facebook and the local outbox, each on an injected httpx.Client."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from farm.errors import InputError
from farm.platforms._base import (
    STATS_PRIVACY,
    AccountInfo,
    PlatformClient,
    RemoteSession,
    RemoteState,
    RemoteStatus,
    Secret,
    TokenSet,
    UploadRequest,
    VideoStats,
    backoff_s,
    make_http_client,
    with_retries,
)
from farm.platforms._facebook import REELS_METRICS, FacebookClient
from farm.platforms._local import LocalClient
from farm.platforms._tiktok import TIKTOK_STATS_BATCH, TikTokClient, tiktok_chunks
from farm.platforms._youtube import (
    YOUTUBE_STATS_BATCH,
    YOUTUBE_STATS_QUOTA_UNITS,
    YouTubeClient,
    next_pacific_midnight,
    youtube_chunk_bytes,
)

PLATFORM_NAMES: tuple[str, ...] = ("youtube", "tiktok", "facebook", "local")

_CLIENTS: dict[str, type[PlatformClient]] = {"youtube": YouTubeClient, "tiktok": TikTokClient,
                                             "facebook": FacebookClient}


def client_for(platform: str, http: httpx.Client, settings, *, outbox: Path | None = None,
               sleep: Callable[[float], None] = time.sleep) -> PlatformClient:
    """The client for ``platform`` over ``http`` (``outbox``: the local account's folder).

    Raises:
        InputError: an unknown platform, or ``local`` without an outbox.
    """
    if platform == "local":
        if outbox is None:
            raise InputError("local: the outbox folder is required")
        return LocalClient(http, settings, outbox=Path(outbox), sleep=sleep)
    klass = _CLIENTS.get(platform)
    if klass is None:
        raise InputError(f"Invalid platform ({platform!r}). Supported: {', '.join(PLATFORM_NAMES)}.")
    return klass(http, settings, sleep=sleep)


__all__ = [
    "PLATFORM_NAMES", "REELS_METRICS", "STATS_PRIVACY", "TIKTOK_STATS_BATCH", "YOUTUBE_STATS_BATCH",
    "YOUTUBE_STATS_QUOTA_UNITS", "AccountInfo", "FacebookClient", "LocalClient", "PlatformClient", "RemoteSession",
    "RemoteState", "RemoteStatus", "Secret", "TikTokClient", "TokenSet", "UploadRequest", "VideoStats",
    "YouTubeClient", "backoff_s", "client_for", "make_http_client", "next_pacific_midnight", "tiktok_chunks",
    "with_retries", "youtube_chunk_bytes",
]
