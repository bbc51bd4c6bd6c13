"""The platforms: one descriptor each (everything the farm follows there) plus its HTTP client, registered once.

The rest of the farm reads descriptors (``platform("tiktok").text``, ``.limits``, ``.finish``)
and never compares a platform's name. Adding a platform is one module that defines a
:class:`Platform` subclass and its :class:`PlatformClient`, and calls :func:`register`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from farm.platforms._base import (
    STATS_PRIVACY,
    AccountInfo,
    RemoteSession,
    RemoteState,
    Secret,
    TokenSet,
    UploadRequest,
    VideoStats,
    backoff_s,
    make_http_client,
    scrub,
    with_retries,
)
from farm.platforms._client import PlatformClient
from farm.platforms._descriptor import (
    INTERACTIONS,
    PRIVACY_WORDS,
    Limit,
    OAuth,
    Platform,
    PlatformSpec,
    Statistics,
    TextRules,
    TokenRules,
    scope_granted,
)
from farm.platforms._facebook import FACEBOOK, REELS_METRICS, FacebookClient, copyright_block
from farm.platforms._local import LOCAL, LocalClient
from farm.platforms._registry import platform, platform_names, platforms, register, unregister
from farm.platforms._tiktok import TIKTOK, TIKTOK_STATS_BATCH, TikTokClient, tiktok_chunks
from farm.platforms._tokens import Connection, tokens_from
from farm.platforms._youtube import (
    YOUTUBE,
    YOUTUBE_STATS_BATCH,
    YOUTUBE_STATS_QUOTA_UNITS,
    YouTubeClient,
    next_pacific_midnight,
    youtube_chunk_bytes,
)

if TYPE_CHECKING:
    import httpx

for _descriptor in (TIKTOK, YOUTUBE, FACEBOOK, LOCAL):
    register(_descriptor)


def client_for(name: str, http: httpx.Client, settings, *, root: str | Path = ".", account: str = "",
               sleep: Callable[[float], None] = time.sleep) -> PlatformClient:
    """The client of the platform ``name`` over ``http`` for ``account`` of the workspace at ``root``.

    Raises:
        InputError: an unknown platform.
    """
    return platform(name).client(http, settings, root=Path(root), account=account, sleep=sleep)


__all__ = [
    "INTERACTIONS", "PRIVACY_WORDS", "REELS_METRICS", "STATS_PRIVACY", "TIKTOK_STATS_BATCH", "YOUTUBE_STATS_BATCH",
    "YOUTUBE_STATS_QUOTA_UNITS", "AccountInfo", "Connection", "FacebookClient", "Limit", "LocalClient", "OAuth",
    "Platform", "PlatformClient", "PlatformSpec", "RemoteSession", "RemoteState", "Secret", "Statistics",
    "TextRules", "TikTokClient", "TokenRules", "TokenSet", "UploadRequest", "VideoStats", "YouTubeClient",
    "backoff_s", "client_for", "copyright_block", "make_http_client", "next_pacific_midnight", "platform",
    "platform_names", "platforms", "register", "scope_granted", "scrub", "tiktok_chunks", "tokens_from", "unregister",
    "with_retries", "youtube_chunk_bytes",
]
