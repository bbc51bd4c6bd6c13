"""Importing media: files, folders (recursively) and URLs, probed, deduplicated by sha256, placed."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import catalogs
from farm.errors import FarmError, InputError
from farm.media import sha256_file
from farm.settings import MOODS
from farm.workspace import KIND_FOLDERS, Workspace

_MOOD = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# A temp file older than this cannot belong to a live import or download.
STALE_PART_S = 6 * 3600

_SKIP_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class ImportOptions:
    kind: str | None = None
    mood: str | None = None
    category: str | None = None
    platform: str | None = None
    license: str | None = None
    creator: str | None = None
    source_url: str | None = None
    attribution: str | None = None
    link: bool = False
    max_bytes: int | None = None


OnItem = Callable[[str, str, str], None]


@dataclass
class ImportReport:
    """What an import of several items did: rows added, rows already there, (item, error) failed.

    ``on_item(outcome, what, detail)``, when given, is told of each item as it is filed.
    """

    added: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    on_item: OnItem | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def fail(self, label: str, message: str) -> None:
        self.failed.append((label, message))
        if self.on_item is not None:
            self.on_item("failed", label, message)

    def attempt(self, label: str, run: Callable[[], tuple[str, dict]], *, shown: str | None = None,
                noun: str = "media") -> None:
        """Run one import (returning ("added" | "duplicate", row)) and file its outcome; a farm
        error or an OS error is one failure named by ``label``, and the others go on."""
        try:
            outcome, row = run()
        except FarmError as err:
            self.fail(label, str(err))
            return
        except OSError as err:
            self.fail(label, f"{label}: {err.strerror or err}")
            return
        (self.added if outcome == "added" else self.duplicates).append(row)
        if self.on_item is not None:
            self.on_item(outcome, shown or label, f"{noun} {row['id']}")


def check_mood(mood: str) -> str:
    """A mood is a short lowercase word (it names a folder under audio/)."""
    if not _MOOD.match(mood or ""):
        raise InputError(f"Invalid mood ({mood!r}): use a short lowercase word, e.g. upbeat, calm, trending, commercial")
    return mood


def sweep_stale_parts(ws: Workspace) -> int:
    """Delete temp files that an import or download killed long ago left behind."""
    now = time.time()
    gone = 0
    roots = [ws.state_dir / "downloads", *(ws.root / f for f in set(KIND_FOLDERS.values()))]
    for root in roots:
        if not root.exists():
            continue
        for part in root.rglob(".*.part"):
            try:
                if now - part.stat().st_mtime > STALE_PART_S:
                    part.unlink()
                    gone += 1
            except OSError:
                pass
    return gone


def _walk(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for sub in sorted(path.rglob("*")):
            rel = sub.relative_to(path).parts
            if sub.is_file() and not any(p.startswith(".") for p in rel) and sub.name not in _SKIP_NAMES:
                yield sub
    else:
        yield path


def _folder_hints(ws: Workspace, path: Path) -> tuple[str | None, str | None]:
    """Kind and mood implied by where a file lies: ``audio/<mood>/x.mp3`` is calm audio, etc."""
    kind = mood = None
    parts = path.resolve().parts
    by_folder = {v: k for k, v in KIND_FOLDERS.items()}
    if ws.contains(path):
        rel = path.resolve().relative_to(ws.root).parts
        if len(rel) > 1 and rel[0] in by_folder:
            kind = by_folder[rel[0]]
        if len(rel) > 2 and rel[0] == "audio" and rel[1] != "unsorted":
            mood = rel[1]
    elif len(parts) > 2 and parts[-3] == "audio" and parts[-2] in MOODS:
        mood = parts[-2]
    return kind, mood


def _probe_kind(path: Path, kind: str | None):
    """Probe ``path`` for ``kind`` (or work the kind out); returns (kind, MediaInfo)."""
    from farm.media import probe

    info = probe(path)
    if info.has_video and info.still:
        detected = "image"
    elif info.has_video:
        detected = None  # template or source: only the user knows
    else:
        detected = "audio"
    if kind is None:
        if detected is None:
            raise InputError(f"{path}: a video; say whether it is a template or a source (--kind)")
        kind = detected
    if kind in ("template", "source") and not info.has_video:
        raise InputError(f"{path}: has no video stream, cannot be a {kind}")
    if kind in ("template", "source") and detected == "image":
        raise InputError(f"{path}: a still image, cannot be a {kind} (use --kind image)")
    if kind == "audio" and not info.has_audio:
        raise InputError(f"{path}: has no audio stream, cannot be music")
    if kind == "image" and detected != "image":
        what = f"a {info.duration_s:.1f} s video" if info.has_video else "audio only"
        raise InputError(f"{path}: not a still image ({what}; use --kind source or template)")
    return kind, info


def _place(ws: Workspace, src: Path, kind: str, mood: str | None, sha: str, *, move: bool, name: str | None = None) -> Path:
    """Copy (or move) ``src`` into the workspace folder for ``kind``; atomic, never overwrites."""
    folder = ws.folder_for(kind, mood)
    folder.mkdir(parents=True, exist_ok=True)
    name = name or src.name
    tmp = folder / f".{name}.{uuid.uuid4().hex[:6]}.part"
    try:
        if move:
            shutil.move(str(src), tmp)
        else:
            shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # Claim the name atomically: a hard link fails if another import took it meanwhile.
        stem, suffix = Path(name).stem, Path(name).suffix
        for candidate in (name, f"{stem}-{sha[:8]}{suffix}", f"{stem}-{sha[:8]}-{uuid.uuid4().hex[:6]}{suffix}"):
            dest = folder / candidate
            try:
                os.link(tmp, dest)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - three collisions in a row
            raise InputError(f"{src}: cannot find a free name in {folder}")
        tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def import_file(
    ws: Workspace, path: Path, opts: ImportOptions, *, origin: str | None = None, move: bool = False, name: str | None = None
) -> tuple[str, dict]:
    """Import one file; returns ("added" | "duplicate", row). Raises InputError when unusable."""
    label = origin or str(path)
    if not path.exists():
        raise InputError(f"{label}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{label}: empty file")
    hint_kind, hint_mood = _folder_hints(ws, path)
    try:
        kind, info = _probe_kind(path, opts.kind or hint_kind)
    except InputError as err:
        if origin:  # name the URL, not the temp file
            raise InputError(f"{origin}: {str(err).split(': ', 1)[-1]}") from None
        raise
    mood = check_mood(opts.mood) if opts.mood else hint_mood
    sha = sha256_file(path)
    with ws.catalog.read() as con:
        existing = catalogs.media_by_sha(con, sha)
    if existing is not None:
        if move:
            path.unlink(missing_ok=True)
        return "duplicate", existing
    in_place = opts.link or (ws.contains(path) and not move)
    license_ = opts.license or ws.settings.media.default_license
    final = path.resolve() if in_place else _place(ws, path, kind, mood, sha, move=move, name=name)
    row = {
        "kind": kind,
        "path": str(final),
        "sha256": sha,
        "size_bytes": final.stat().st_size,
        "duration_s": None if kind == "image" else round(info.duration_s, 4),
        "width": info.width or None,
        "height": info.height or None,
        "fps": round(info.fps, 4) if info.fps and kind != "image" else None,
        "has_audio": bool(info.has_audio),
        "mood": mood,
        "category": opts.category,
        "platform": opts.platform,
        "license": license_,
        "creator": opts.creator,
        "source_url": opts.source_url or (origin if origin and "://" in origin else None),
        "attribution": opts.attribution,
        "linked": bool(in_place and not ws.contains(final)),
    }
    try:
        with ws.catalog.write() as con:
            dup = catalogs.media_by_sha(con, sha)
            if dup is not None:  # raced with another importer
                raise _Dup(dup)
            row["id"] = catalogs.insert_media(con, row)
            catalogs.log_stage(con, None, "import", detail=f"media {row['id']} {kind} {final.name}")
    except _Dup as d:
        if not in_place:
            final.unlink(missing_ok=True)
        return "duplicate", d.row
    except BaseException:
        if not in_place:
            final.unlink(missing_ok=True)
        raise
    return "added", row


class _Dup(Exception):
    def __init__(self, row: dict) -> None:
        self.row = row


def import_media(
    ws: Workspace,
    items: Iterable[str],
    opts: ImportOptions,
    *,
    on_item: OnItem | None = None,
    download_progress=None,
) -> ImportReport:
    """Import files, folders (recursively) and URLs; a bad item is reported and skipped.

    ``on_item(outcome, what, detail)`` is called per item with outcome "added",
    "duplicate" or "failed".
    """
    report = ImportReport(on_item=on_item)
    if opts.mood:
        check_mood(opts.mood)
    sweep_stale_parts(ws)
    for item in items:
        if "://" in item:
            report.attempt(item, lambda url=item: _import_url(ws, url, opts, download_progress))
            continue
        p = Path(item)
        if not p.exists():
            report.fail(item, f"{item}: no such file or folder")
            continue
        for path in _walk(p):
            report.attempt(str(path), lambda path=path: import_file(ws, path, opts))
    return report


def _import_url(ws: Workspace, url: str, opts: ImportOptions, progress) -> tuple[str, dict]:
    from farm.library._download import download

    cap = opts.max_bytes or ws.settings.media.max_download_bytes
    got = download(
        url,
        ws.state_dir / "downloads",
        max_bytes=cap,
        timeout_s=ws.settings.media.download_timeout_s,
        progress=progress,
    )
    try:
        link_off = ImportOptions(**{**opts.__dict__, "link": False})
        return import_file(ws, got.path, link_off, origin=url, move=True, name=got.filename)
    finally:
        got.path.unlink(missing_ok=True)
