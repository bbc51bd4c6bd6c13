"""Files by id only: a job's video (HTTP Range through Starlette's FileResponse) and thumbnails cached by sha256."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import catalogs
from farm.errors import InputError
from farm.web._app import NotFound

THUMB_WIDTH = 320
THUMB_AT_S = 1.0


def _job_output(ws, job_id: int) -> tuple[Path, dict]:
    with ws.catalog.read() as con:
        job = catalogs.get_job(con, job_id)
    if job is None:
        raise NotFound(f"job {job_id}: no such job")
    path = Path(job["output_path"]) if job.get("output_path") else None
    if path is None or not path.is_file():
        raise NotFound(f"job {job_id}: no output yet" if path is None else f"job {job_id}: its output is gone")
    return path, job


def job_video(ws, job_id: int, *, download: bool = False):
    """The job's output as a FileResponse (Starlette answers Range with 206, a bad range with 416)."""
    from starlette.responses import FileResponse

    path, _ = _job_output(ws, job_id)
    return FileResponse(path, media_type="video/mp4", filename=f"job-{job_id}.mp4" if download else None,
                        content_disposition_type="attachment" if download else "inline")


def _thumb(state, source: Path, sha256: str | None, *, image: bool):
    """A JPEG of ``source`` (a frame at about 1 s of a video, or the image), made once under .farm/thumbs/."""
    from starlette.responses import FileResponse

    # the content's sha256 names the thumbnail (hashed again: a catalog value never becomes a file name as is)
    key = hashlib.sha256(f"{sha256 or source}:{THUMB_WIDTH}".encode()).hexdigest()
    folder = state.ws.state_dir / "thumbs"
    target = folder / f"{key}.jpg"
    lock = state.extra.setdefault("thumbs_lock", threading.Lock())
    with lock:
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            picture = _image_of(source) if image else _frame_of(source)
            picture.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 2))
            tmp = target.with_suffix(".part")
            picture.convert("RGB").save(tmp, "JPEG", quality=80)
            tmp.replace(target)
    return FileResponse(target, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})


def _image_of(source: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as im:
            im.load()
            return im.copy()
    except (OSError, UnidentifiedImageError):
        raise InputError(f"{source.name}: not an image Pillow can read") from None


def _frame_of(source: Path):
    import av

    try:
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            picked = None
            for frame in container.decode(stream):
                picked = frame
                if frame.time is not None and frame.time >= THUMB_AT_S:
                    break
            if picked is None:
                raise InputError(f"{source.name}: no video frame")
            return picked.to_image()
    except (av.error.FFmpegError, IndexError):
        raise InputError(f"{source.name}: not a video file") from None


def job_thumbnail(state, job_id: int):
    path, job = _job_output(state.ws, job_id)
    return _thumb(state, path, job.get("output_sha256"), image=False)


def media_thumbnail(state, media_id: int):
    with state.ws.catalog.read() as con:
        row = catalogs.get_media(con, media_id)
    if row is None:
        raise NotFound(f"media {media_id}: no such media")
    path = Path(row["path"])
    if not path.is_absolute():
        path = state.ws.root / path
    if not path.is_file():
        raise NotFound(f"media {media_id}: its file is gone")
    from farm.media import is_image_path

    return _thumb(state, path, row.get("sha256"), image=is_image_path(path))
