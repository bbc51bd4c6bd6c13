"""Taking media out of the library: remove one item, clean up old processed ones, change tags."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import catalogs
from farm.errors import InputError
from farm.library._import import check_mood
from farm.workspace import Workspace


def remove_media(ws: Workspace, media_id: int, *, keep_file: bool = False) -> dict:
    """Delete a media row (and its file, when the workspace owns it); refused while jobs need it."""
    with ws.catalog.write() as con:
        row = catalogs.get_media(con, media_id)
        if row is None:
            raise InputError(f"media {media_id}: no such media")
        busy = catalogs.jobs_using(con, media_id, states=("pending", "rendering"))
        if busy:
            raise InputError(
                f"media {media_id}: still needed by {len(busy)} pending or rendering job(s) "
                f"({', '.join(map(str, busy[:5]))}); cancel them first"
            )
        products = catalogs.products_using(con, media_id)
        if products:
            raise InputError(
                f"media {media_id}: an image of product(s) {', '.join(map(str, products[:5]))}; "
                "a product keeps its images"
            )
        catalogs.delete_media(con, media_id)
        catalogs.log_stage(con, None, "remove", detail=f"media {media_id} {row['path']}")
    if not keep_file and not row.get("linked") and ws.contains(row["path"]):
        Path(row["path"]).unlink(missing_ok=True)
    return row


def cleanup_media(ws: Workspace, *, older_than_days: float, kind: str = "source", dry_run: bool = False) -> list[dict]:
    """Delete processed media (used by at least one job) older than the cutoff, with their files.

    Never touches media that a pending or rendering job still needs. Files outside the
    workspace (``--link``) lose their row but stay on disk.
    """
    cutoff = catalogs.utcnow() - timedelta(days=float(older_than_days))
    if dry_run:
        with ws.catalog.read() as con:
            return catalogs.cleanup_candidates(con, kind=kind, created_before=cutoff)
    with ws.catalog.write() as con:
        rows = catalogs.cleanup_candidates(con, kind=kind, created_before=cutoff)
        for row in rows:
            catalogs.delete_media(con, row["id"])
        if rows:
            catalogs.log_stage(con, None, "cleanup", detail=f"{len(rows)} {kind} media older than {older_than_days} days")
    for row in rows:  # after the commit: a crash here leaves an orphan file, never a row without its file
        if not row.get("linked") and ws.contains(row["path"]):
            Path(row["path"]).unlink(missing_ok=True)
    return rows


UPDATABLE = ("license", "mood", "category", "platform", "creator", "source_url", "attribution")


def update_media(ws: Workspace, media_id: int, changes: dict) -> dict:
    """Change a media item's licence, tags or credits; returns its updated row."""
    changes = {k: v for k, v in changes.items() if v is not None}
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InputError(f"media update: cannot change {', '.join(sorted(unknown))}. Supported: {', '.join(UPDATABLE)}.")
    if not changes:
        raise InputError("media update: nothing to change (give --license, --mood, ...)")
    if "mood" in changes:
        check_mood(changes["mood"])
    if "license" in changes and changes["license"] not in catalogs.LICENSES:
        raise InputError(f"Invalid license ({changes['license']!r}). Supported: {', '.join(catalogs.LICENSES)}.")
    with ws.catalog.write() as con:
        if catalogs.get_media(con, media_id) is None:
            raise InputError(f"media {media_id}: no such media")
        catalogs.update_media(con, media_id, changes)
        catalogs.log_stage(con, None, "update", detail=f"media {media_id}: {changes}")
        return catalogs.get_media(con, media_id)
