"""Download media from a URL with httpx: streamed to a temp file, resumed, capped, checked."""

from __future__ import annotations

import email.message
import os
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from farm.errors import InputError, RetryableError

MAX_RESUMES = 5
_MEDIA_TYPES = ("video/", "audio/", "image/")
_NEUTRAL_TYPES = ("application/octet-stream", "binary/octet-stream", "application/mp4", "application/x-mpegurl", "")
_EXT_BY_TYPE = {
    "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "video/x-matroska": ".mkv",
    "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/aac": ".aac", "audio/wav": ".wav", "audio/x-wav": ".wav",
    "audio/ogg": ".ogg", "audio/flac": ".flac", "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
}
_HTML_SNIFF = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<\?xml|<!--)", re.IGNORECASE)


@dataclass(frozen=True)
class Downloaded:
    """A finished download: where it lies (a temp name in the workspace) and what it is called."""

    path: Path
    filename: str
    url: str
    size_bytes: int
    content_type: str
    resumes: int


ProgressFn = Callable[[int, int | None], None]


def _filename(url: str, response: httpx.Response, content_type: str) -> str:
    name = ""
    cd = response.headers.get("content-disposition")
    if cd:
        msg = email.message.Message()
        msg["content-disposition"] = cd
        name = msg.get_filename() or ""
    if not name:
        name = unquote(Path(urlsplit(url).path).name)
    name = re.sub(r"[^\w.\- ]+", "_", os.path.basename(name)).strip(" .") or "download"
    if not Path(name).suffix and content_type in _EXT_BY_TYPE:
        name += _EXT_BY_TYPE[content_type]
    return name[:120]


def _check_type(url: str, content_type: str) -> None:
    if content_type.startswith(_MEDIA_TYPES) or content_type in _NEUTRAL_TYPES:
        return
    what = "an HTML page" if "html" in content_type else f"{content_type!r}, not media"
    raise InputError(f"{url}: the server answered with {what}; give a direct link to a video, audio or image file")


def download(
    url: str,
    dest_dir: str | os.PathLike,
    *,
    max_bytes: int,
    timeout_s: float = 30.0,
    client: httpx.Client | None = None,
    progress: ProgressFn | None = None,
    max_resumes: int = MAX_RESUMES,
    max_total_s: float | None = None,
) -> Downloaded:
    """Stream ``url`` into a temp file under ``dest_dir`` and return it.

    ``timeout_s`` bounds each connect and read; ``max_total_s`` (default: 120 reads'
    worth) bounds the whole download, so a server trickling bytes cannot hold it forever.
    A dropped connection or a read timeout is resumed with a ``Range`` request (guarded by
    ``If-Range`` so a changed file restarts instead of splicing) up to ``max_resumes``
    times, with backoff. Refused, with nothing left on disk: HTTP errors, an HTML page or
    other non-media answer, a size announced or streamed above ``max_bytes``.

    Raises:
        InputError: a permanent problem (4xx, not media, too big).
        RetryableError: the server kept failing (5xx, connection trouble) past the bound.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise InputError(f"{url}: only http and https URLs can be imported")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / f".download-{uuid.uuid4().hex}.part"
    own_client = client is None
    if own_client:
        client = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=True)
    try:
        deadline = time.monotonic() + (max_total_s if max_total_s is not None else 120 * timeout_s)
        return _download(url, tmp, client, max_bytes=max_bytes, progress=progress, max_resumes=max_resumes,
                         deadline=deadline)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if own_client:
            client.close()


def _download(url, tmp: Path, client: httpx.Client, *, max_bytes, progress, max_resumes, deadline) -> Downloaded:
    got = 0
    total: int | None = None
    validator: str | None = None
    resumes = 0
    filename, content_type = "", ""
    with open(tmp, "wb") as fh:
        while True:
            headers = {"Accept-Encoding": "identity"}
            if got and validator:
                headers.update({"Range": f"bytes={got}-", "If-Range": validator})
            elif got:
                headers["Range"] = f"bytes={got}-"
            try:
                with client.stream("GET", url, headers=headers) as r:
                    if r.status_code >= 500:
                        raise httpx.RemoteProtocolError(f"HTTP {r.status_code}")
                    if r.status_code >= 400:
                        raise InputError(f"{url}: the server answered HTTP {r.status_code} {r.reason_phrase}")
                    if got and r.status_code == 206:
                        start = _range_start(r.headers.get("content-range"))
                        if start != got:
                            raise InputError(f"{url}: the server resumed at byte {start}, not {got}")
                    elif got:  # 200 to a Range request: the server restarts from byte 0
                        fh.seek(0)
                        fh.truncate()
                        got = 0
                    if not filename:
                        content_type = r.headers.get("content-type", "").split(";")[0].strip().lower()
                        _check_type(url, content_type)
                        filename = _filename(str(r.url), r, content_type)
                        validator = r.headers.get("etag") or r.headers.get("last-modified")
                    length = r.headers.get("content-length")
                    if length is not None and length.isdigit():
                        announced = got + int(length)
                        if announced > max_bytes:
                            raise InputError(
                                f"{url}: the file is {announced:,} bytes, more than the cap of {max_bytes:,} (--max-bytes)"
                            )
                        total = announced
                    first = got == 0
                    for chunk in r.iter_raw():  # raw: byte offsets match Range, and nothing sits in a buffer at a drop
                        if first and chunk:
                            if _HTML_SNIFF.match(chunk[:256]):
                                raise InputError(f"{url}: the server answered with an HTML page, not media")
                            first = False
                        got += len(chunk)
                        if time.monotonic() > deadline:
                            raise RetryableError(f"{url}: download too slow, stopped at {got:,} bytes (time limit)")
                        if got > max_bytes:
                            raise InputError(f"{url}: more than the cap of {max_bytes:,} bytes (--max-bytes)")
                        fh.write(chunk)
                        if progress is not None:
                            progress(got, total)
                    if total is not None and got < total:
                        raise httpx.RemoteProtocolError(f"connection closed at byte {got} of {total}")
                    break
            except (httpx.TransportError, httpx.RemoteProtocolError) as err:
                if resumes >= max_resumes:
                    raise RetryableError(f"{url}: download failed after {resumes} resumes ({err})") from None
                resumes += 1
                fh.flush()
                time.sleep(min(2.0, 0.05 * 2**resumes) * (0.5 + random.random()))
        fh.flush()
        os.fsync(fh.fileno())
    if got == 0:
        raise InputError(f"{url}: the server sent an empty file")
    return Downloaded(tmp, filename or "download", url, got, content_type, resumes)


def _range_start(value: str | None) -> int | None:
    m = re.match(r"bytes (\d+)-", value or "")
    return int(m.group(1)) if m else None
