"""Helpers for publishing tests: a workspace with ready jobs whose outputs are real, small, vertical videos."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

import catalogs
from farm.platforms import platform_names
from farm.workspace import Workspace, init_workspace


def vertical_video(path: Path, *, seconds: float = 4.0, fps: int = 30, width: int = 540, height: int = 960,
                   pad_bytes: int = 0, colour=(220, 30, 30)) -> Path:
    """A flat vertical H.264 MP4 (one keyframe muxed at every frame time, so it is made in
    milliseconds), followed by a ``free`` box of ``pad_bytes`` random bytes: players and probes
    skip it, uploads carry it, so chunking is tested on a file of any size."""
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
    vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), colour, np.uint8), format="rgb24")
    frame = frame.reformat(format="yuv420p")
    frame.pts, frame.time_base = 0, Fraction(1, fps)
    packets = [bytes(p) for p in vs.encode(frame)] + [bytes(p) for p in vs.encode(None)]
    for i in range(int(round(seconds * fps))):
        p = av.Packet(packets[0])
        p.stream, p.time_base, p.pts, p.dts, p.duration, p.is_keyframe = vs, Fraction(1, fps), i, i, 1, True
        out.mux(p)
    out.close()
    if pad_bytes:
        with open(path, "ab") as fh:
            fh.write(struct.pack(">I4s", pad_bytes + 8, b"free"))
            fh.write(np.random.default_rng(len(str(path))).integers(0, 256, pad_bytes, dtype=np.uint8).tobytes())
    return path


def workspace(root: Path) -> Workspace:
    ws, _ = init_workspace(root)
    return ws


def ready_job(ws: Workspace, video: Path, *, platform: str | None, licence: str = "owned",
              title: str = "Áo thun cotton 100%", affiliate: bool = False) -> int:
    """A job in state ready whose output is ``video`` and whose main clip has ``licence``, with
    post metadata for its platform (or all three)."""
    from farm.jobs import post_metadata
    from farm.ai import fallback_video_text

    sha = hashlib.sha256(video.read_bytes()).hexdigest()
    platforms = [platform] if platform else list(platform_names())
    text = fallback_video_text(title_hint=title, creator="Chị Mai", language="vi", platforms=platforms,
                               reason="test")
    posts = post_metadata(text, platforms, language="vi",
                          affiliate_url="https://shope.ee/abc" if affiliate else None)
    with ws.catalog.write() as con:
        media_id = catalogs.insert_media(con, {
            "kind": "source", "path": str(video), "sha256": sha + str(os.urandom(4).hex()), "size_bytes": video.stat().st_size,
            "duration_s": 4.0, "width": 540, "height": 960, "fps": 30.0, "has_audio": False, "license": licence,
            "creator": "Chị Mai"})
        job_id = catalogs.insert_job(con, kind="mashup", spec={"mains": [str(video)], "output": str(video)},
                                     platform=platform, inputs=[(media_id, "main", 0)])
        catalogs.move(con, job_id, "rendering")
        catalogs.move(con, job_id, "ready", sets={"output_path": str(video), "output_sha256": sha,
                                                  "output_size_bytes": video.stat().st_size})
        catalogs.set_job_text(con, job_id, post_metadata=posts, text_source="fallback", text_source_reason="test",
                              ai_tokens=0)
    return job_id


def token_file(tmp: Path, name: str, value: str) -> Path:
    p = tmp / name
    p.write_text(value + "\n", encoding="utf-8")
    return p


def pointed_at(ws: Workspace, *fakes) -> Workspace:
    """``ws`` with its platform settings pointed at the fake servers (their ``FARM_*`` variables, read
    as a process started with them reads them), without touching this process's environment."""
    env: dict[str, str] = {}
    for fake in fakes:
        env.update(fake.settings_env())
    settings = dataclasses.replace(ws.settings, platforms=ws.settings.platforms.with_environment(env))
    return Workspace(ws.root, settings=settings)


def add_facebook(ws: Workspace, tmp: Path, *, username: str, page_id: str = "1001",
                 token: str = "EAAB-fb-page-SECRET-0", **options) -> dict:
    """A Facebook account added as ``farm accounts add facebook`` adds it: its Page token checked with
    debug_token, here by a fake Graph API on loopback that knows the token as ``page_id``'s."""
    from farm.publish import add_account
    from fake_platforms import FakeFacebook

    with FakeFacebook() as fb:
        fb.add_token(token, page_id)
        return add_account(pointed_at(ws, fb), "facebook", username=username, page_id=page_id,
                           token_file=token_file(tmp, f"fb-{username}-{page_id}", token), **options)
