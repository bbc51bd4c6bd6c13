"""The local outbox: a platform that is a folder, with the same resumable steps as the real ones, and its descriptor."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from farm.errors import InputError, RetryableError, SessionLostError
from farm.platforms._base import (
    FILE_PIECE_BYTES,
    AccountInfo,
    RemoteSession,
    RemoteState,
    Secret,
    TokenSet,
    UploadRequest,
    VideoStats,
    utc_now,
)
from farm.platforms._client import PlatformClient
from farm.platforms._descriptor import PRIVACY_WORDS, Platform, PlatformSpec, Statistics

if TYPE_CHECKING:
    import httpx


def fsync_dir(path: Path) -> None:
    """The folder's entries made durable (farm.media's, imported when first needed: it loads the codecs)."""
    from farm.media import fsync_dir as sync

    sync(path)

_ALL_PRIVACY = PRIVACY_WORDS


class LocalClient(PlatformClient):
    """Publishes into ``outbox`` (the account's folder): ``{marker}.mp4`` and ``{marker}.json``.

    Bytes are copied into ``.{marker}.mp4.part``, fsynced a chunk at a time, so a crash resumes
    at the part's size. ``finish`` writes the JSON under a temporary name and renames it into
    place, then renames the video (last): a video under its final name is published, and its
    metadata is already beside it. Every step is fsynced, the folder too.
    """

    platform = "local"

    def __init__(self, http: httpx.Client | None = None, settings=None, *, outbox: Path,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(http, settings, sleep=sleep)  # type: ignore[arg-type]
        self.outbox = Path(outbox)

    # -- names -----------------------------------------------------------------------------

    def _names(self, request: UploadRequest) -> tuple[Path, Path, Path]:
        """(final video, its JSON, the part file), all named from the marker."""
        marker = request.marker
        if (not marker or marker.startswith(".") or any(c in marker for c in '/\\:\0')
                or marker != marker.strip()):
            raise InputError(f"local outbox: invalid marker ({marker!r}) for a file name")
        suffix = request.path.suffix or ".mp4"
        video = self.outbox / f"{marker}{suffix}"
        return video, self.outbox / f"{marker}.json", self.outbox / f".{video.name}.part"

    def _published(self, video: Path, request: UploadRequest) -> RemoteState:
        return RemoteState("published", received_bytes=request.size_bytes, remote_id=video.name,
                           remote_url=video.resolve().as_uri(), privacy=request.privacy)

    # -- account ---------------------------------------------------------------------------

    def account_info(self, token: Secret, *, page_id: str | None = None) -> AccountInfo:
        """Everything is allowed in a folder."""
        return AccountInfo(_ALL_PRIVACY)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """Nothing expires: the tokens back unchanged."""
        return tokens

    # -- upload ----------------------------------------------------------------------------

    def start(self, token: Secret, request: UploadRequest) -> RemoteSession:
        """Create the empty part file (a video already published is left alone)."""
        video, _, part = self._names(request)
        self.outbox.mkdir(parents=True, exist_ok=True)
        if not video.exists():
            with open(part, "wb") as f:
                os.fsync(f.fileno())
            fsync_dir(self.outbox)
        return RemoteSession(platform=self.platform, handle=str(part), chunk_bytes=request.chunk_bytes,
                             started_at=utc_now(), extra={"name": video.name})

    def send(self, token: Secret, session: RemoteSession, request: UploadRequest, *, offset: int,
             on_bytes: Callable[[int], None] | None = None) -> RemoteState:
        """Copy the chunk at ``offset`` into the part file, fsynced."""
        video, _, part = self._names(request)
        if video.exists():
            return self._published(video, request)
        size = request.size_bytes
        try:
            held = part.stat().st_size
        except FileNotFoundError:
            raise SessionLostError(f"local outbox: the part file of {video.name} is gone; start anew") from None
        if offset > held:
            raise RetryableError(f"local outbox: {video.name} holds {held} bytes, not {offset}; query and resume")
        try:
            actual = request.path.stat().st_size
        except OSError as err:
            raise InputError(f"{request.path.name}: cannot read the video to publish ({err.strerror or err})") from None
        if actual != size:
            raise InputError(f"{request.path.name}: the video is {actual} bytes, not the {size} its upload was "
                             "started with")
        chunk = session.chunk_bytes if session.chunk_bytes > 0 else size
        end = min(size, offset + chunk)
        with open(request.path, "rb") as src, open(part, "r+b") as dst:
            src.seek(offset)
            dst.seek(offset)
            left = end - offset
            while left > 0:
                piece = src.read(min(FILE_PIECE_BYTES, left))
                if not piece:
                    raise InputError(f"{request.path.name}: the video shrank while it was being published")
                dst.write(piece)
                left -= len(piece)
                if on_bytes is not None:
                    on_bytes(len(piece))
            dst.truncate(end)
            dst.flush()
            os.fsync(dst.fileno())
        return RemoteState("uploaded" if end >= size else "uploading", received_bytes=end)

    @staticmethod
    def _held(video: Path, part: Path) -> int:
        try:
            return part.stat().st_size
        except FileNotFoundError:
            raise SessionLostError(f"local outbox: the part file of {video.name} is gone; start anew") from None

    def query(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        """Published when the final file exists, else the part file's size."""
        video, _, part = self._names(request)
        if video.exists():
            return self._published(video, request)
        held = self._held(video, part)
        if held >= request.size_bytes:
            return RemoteState("uploaded", received_bytes=request.size_bytes)
        return RemoteState("uploading", received_bytes=held)

    def finish(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        """Write the JSON into place, then rename the video into place (last)."""
        video, meta, part = self._names(request)
        if video.exists():
            return self._published(video, request)
        held = self._held(video, part)
        if held != request.size_bytes:
            raise RetryableError(f"local outbox: {video.name} holds {held} of {request.size_bytes} bytes; "
                                 "query and resume")
        record = dict(request.metadata)
        record.update(title=request.title, description=request.description, marker=request.marker)
        temp = self.outbox / f".{meta.name}.tmp"
        with open(temp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=2, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, meta)
        fsync_dir(self.outbox)
        with open(part, "rb") as f:  # the bytes were fsynced per chunk; once more costs nothing
            os.fsync(f.fileno())
        os.replace(part, video)
        fsync_dir(self.outbox)
        return self._published(video, request)

    def _video_stats(self, token: Secret, ids: list[str], privacy: dict[str, str]) -> dict[str, VideoStats]:
        """A folder counts nothing: the user posts these by hand, so there are no statistics to read."""
        return {remote_id: VideoStats.unavailable(remote_id, "posted by hand: no statistics") for remote_id in ids}

    def find(self, token: Secret, request: UploadRequest) -> RemoteState | None:
        """The published video by its marker's file name, or None."""
        video, _, _ = self._names(request)
        return self._published(video, request) if video.exists() else None


class LocalPlatform(Platform):
    """The local outbox: it stands in for the platforms a job wants that have no account (people who
    post by hand), takes no token, checks nothing of the file, and counts nothing."""

    name = "local"
    label = "the local outbox"
    client_class = LocalClient
    outbox = True
    privacy = PRIVACY_WORDS
    spec = PlatformSpec(name="the local outbox")
    tokens = None
    finish = "repeatable"
    finds_lost = True
    stats = Statistics(available=False)

    def client(self, http, settings, *, root, account: str, sleep) -> LocalClient:
        return LocalClient(http, settings, outbox=Path(root) / "outbox" / account, sleep=sleep)

    def notices(self, privacy: str, settings) -> list[str]:
        return []


LOCAL = LocalPlatform()
