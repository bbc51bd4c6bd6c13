"""Post text for mashup jobs: a title, a description with the credit line and hashtags per
platform, from the AI writer or the template writer, written after the job is planned."""

from __future__ import annotations

import json
import re
from pathlib import Path

import catalogs
from farm.platforms import platform_names
from farm.workspace import Workspace


def _title_hint(job: dict, mains: list[dict]) -> str:
    """What the video is about, as far as the catalog knows: its caption, else the main clip's
    category, else its file name made readable."""
    if job["spec"].get("caption"):
        return job["spec"]["caption"]
    for row in mains:
        if row.get("category"):
            return row["category"]
    if mains:
        return re.sub(r"[-_.]+", " ", Path(mains[0]["path"]).stem).strip()
    return ""


def post_metadata(text, platforms: list[str], *, language: str, fallback_title: str = "",
                  affiliate_url: str | None = None, disclosure_text: str | None = None,
                  synthetic_voice: bool = False, affiliate_urls: dict[str, str] | None = None,
                  sub_ids: dict[str, str] | None = None) -> dict[str, dict]:
    """A text's post metadata for each platform (as JSON), within the platform's limits.

    ``affiliate_urls``: each platform's own link (made for its post, carrying ``sub_ids[platform]``
    where the post is tracked); a platform missing from it gets ``affiliate_url`` as it is, with a
    ``{sub_id}`` placeholder left empty.
    """
    from farm.publish import build_post_metadata
    from farm.revenue import plain_url

    posts = {}
    for p in platforms:
        url = (affiliate_urls or {}).get(p) or plain_url(affiliate_url)
        meta = build_post_metadata(
            platform=p, title=text.titles.get(p) or fallback_title, description=text.descriptions.get(p) or "",
            hashtags=list(text.hashtags), language=language, affiliate_url=url,
            disclosure_text=disclosure_text, synthetic_voice=synthetic_voice, text_source=text.source,
            text_source_reason=text.reason, sub_id=(sub_ids or {}).get(p) if url else None,
        )
        posts[p] = json.loads(meta.to_json())
    return posts


def write_post_text(ws: Workspace, job_ids: list[int], *, writer=None) -> None:
    """Give each mashup job its post metadata per platform (its own platform, or all three for
    a job without one). The words are asked for outside any catalog transaction; the AI being
    away only means the template writer's words, recorded as such."""
    from farm.ai import fallback_video_text
    from farm.jobs._promo import make_writer

    if not job_ids:
        return
    settings = ws.settings
    use_ai = settings.ai.enabled
    if writer is None and use_ai:
        writer = make_writer(ws, settings)
    language = settings.ai.language
    for job_id in job_ids:
        with ws.catalog.read() as con:
            job = catalogs.get_job(con, job_id)
            if job is None or job["kind"] != "mashup":
                continue
            mains = [catalogs.get_media(con, r["media_id"]) for r in catalogs.job_inputs(con, job_id)
                     if r["role"] == "main"]
        mains = [m for m in mains if m is not None]
        platforms = [job["platform"]] if job["platform"] else list(platform_names())
        creator = next((m["creator"] for m in mains if m.get("creator")), None)
        tokens = 0
        if use_ai:
            got = writer.video_text(title_hint=_title_hint(job, mains), creator=creator, language=language,
                                    platforms=platforms)
            text, tokens = got.text, int(got.prompt_tokens + got.completion_tokens)
        else:
            text = fallback_video_text(title_hint=_title_hint(job, mains), creator=creator, language=language,
                                       platforms=platforms, reason="AI text is off in farm.toml")
        posts = post_metadata(text, platforms, language=language)
        with ws.catalog.write() as con:
            catalogs.set_job_text(con, job_id, post_metadata=posts, text_source=text.source,
                                  text_source_reason=text.reason, ai_tokens=tokens)
