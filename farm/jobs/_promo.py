"""Promo jobs: a product's words (the AI writer, or the template writer), its voice, its music by
mood, the render spec and the post metadata per platform, built before the render so that a
render never waits on a server."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import catalogs
from farm.errors import InputError
from farm.jobs._plan import check_platform, check_rights
from farm.jobs._spec import PromoSpec
from farm.library import ProductDefinition
from farm.settings import MOODS, Settings
from farm.workspace import Workspace


@dataclass(frozen=True)
class Product(ProductDefinition):
    """A product as a promo needs it: from the catalog (``id`` and its images' media ids set),
    or straight from a file (its images as local paths)."""

    id: int | None = None
    image_ids: tuple[int, ...] = ()

    def as_prompt(self) -> dict:
        return {"name": self.name, "price": self.price, "currency": self.currency,
                "selling_points": list(self.selling_points), "call_to_action": self.call_to_action,
                "language": self.language, "platforms": list(self.platforms), "mood": self.mood}


@dataclass(frozen=True)
class PromoJob:
    """Everything decided before a promo renders."""

    spec: PromoSpec
    product: Product
    posts: dict[str, dict]  # platform -> PostMetadata as JSON
    text: dict  # the PromoText, as JSON
    text_source: str
    text_source_reason: str | None
    ai_tokens: int
    voice: bool
    voice_reason: str | None
    music_id: int | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> dict:
        return {"text_source": self.text_source, "text_source_reason": self.text_source_reason,
                "ai_tokens": self.ai_tokens, "voice": self.voice, "voice_reason": self.voice_reason,
                "hook": self.spec.hook, "selling_lines": list(self.spec.selling_lines),
                "call_to_action": self.spec.call_to_action, "music": self.spec.music, "posts": self.posts}


def product_from_row(row: dict) -> Product:
    return Product(
        name=row["name"], price=float(row["price"]), currency=row["currency"],
        images=tuple(i["path"] for i in row["images"]), selling_points=tuple(row["selling_points"]),
        affiliate_url=row.get("affiliate_url"), call_to_action=row.get("call_to_action"),
        language=row["language"], platforms=tuple(row["platforms"]), mood=row.get("mood"),
        network=row.get("network"), campaign_id=row.get("campaign_id"),
        source=f"product {row['id']}", id=int(row["id"]), image_ids=tuple(int(i["id"]) for i in row["images"]),
    )


def load_product(ref: str, *, ws: Workspace | None) -> Product:
    """``ref`` is a product id in the workspace's catalog, or a product file (YAML/JSON, one
    product, local image paths)."""
    from farm.library import read_products

    if ref.isdigit():
        if ws is None:
            raise InputError(f"product {ref}: a product id needs a workspace (farm init), or give a product file")
        with ws.catalog.read() as con:
            row = catalogs.get_product(con, int(ref))
        if row is None:
            raise InputError(f"product {ref}: no such product")
        return product_from_row(row)
    defs = read_products(ref)
    if len(defs) != 1:
        raise InputError(f"{ref}: {len(defs)} products; import them (farm products import) and render by id, "
                         "or queue them all with farm queue add promo --csv")
    d = defs[0]
    for img in d.images:
        if "://" in img:
            raise InputError(f"{ref}: image {img} is a URL; import the product first (farm products import {ref})")
    return Product(**{**asdict(d), "images": tuple(str(d.image_path(img)) for img in d.images)})


def library_moods(ws: Workspace | None) -> list[str]:
    """The moods the library has music for (the AI chooses among them); the defaults without one."""
    if ws is None:
        return list(MOODS)
    with ws.catalog.read() as con:
        moods = catalogs.audio_moods(con)
    return moods or list(MOODS)


def make_writer(ws: Workspace | None, settings: Settings):
    from farm.ai import AiWriter, CatalogAnswerCache, MemoryAnswerCache

    return AiWriter(settings=settings.ai, cache=CatalogAnswerCache(ws) if ws is not None else MemoryAnswerCache())


def _write_voice(wav: bytes, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"voice-{hashlib.sha256(wav).hexdigest()[:20]}.wav"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(wav)
        tmp.replace(path)
    return str(path)


def build_promo(
    product: Product,
    *,
    output: str,
    ws: Workspace | None = None,
    settings: Settings | None = None,
    platform: str | None = None,
    duration_s: float | None = None,
    template: str | None = None,
    music: str | None = None,
    mood: str | None = None,
    ai: bool | None = None,
    voice: bool | None = None,
    voice_dir: str | Path | None = None,
    seed: int = 0,
    writer=None,
    for_publishing: bool = False,
    affiliate_urls: dict[str, str] | None = None, sub_ids: dict[str, str] | None = None,
) -> PromoJob:
    """Write the promo's words, speak them if asked, choose its music, and make its spec.

    Never fails because the AI server is away: the template writer takes over and the job records why
    (``text_source`` "fallback" and the reason); a missing voice is a warning. A queued job's posts get
    ``affiliate_urls[platform]``, the link made for the post, carrying ``sub_ids[platform]``.
    """
    from farm.ai import fallback_promo_text
    from farm.jobs._posts import post_metadata
    from farm.text import format_price

    settings = settings or (ws.settings if ws is not None else Settings())
    check_platform(platform)
    platforms = [platform] if platform else list(product.platforms)
    use_ai = settings.ai.enabled if ai is None else ai
    want_voice = settings.promo.voice if voice is None else voice
    moods = library_moods(ws)
    warnings: list[str] = []
    if writer is None and (use_ai or want_voice):  # the openai package takes half a second to import
        writer = make_writer(ws, settings)
    tokens = 0
    if use_ai:
        got = writer.promo_text(product=product.as_prompt() | {"platforms": platforms}, moods=moods)
        text, tokens = got.text, int(got.prompt_tokens + got.completion_tokens)
    else:
        text = fallback_promo_text(name=product.name, price=product.price, currency=product.currency,
                                   selling_points=list(product.selling_points),
                                   call_to_action=product.call_to_action, language=product.language,
                                   platforms=platforms, moods=moods, preferred_mood=product.mood,
                                   reason="AI text turned off (--no-ai)")
    if text.source == "fallback" and use_ai:
        warnings.append(f"promo text from the template writer: {text.reason}")
    # music: named, else the library's by the product's (or the AI's) mood
    music_id = None
    music_path = music
    if music_path is None and ws is not None:
        wanted = mood or product.mood or text.mood
        with ws.catalog.read() as con:
            picked = catalogs.pick_media(con, kind="audio", platform=platform, mood=wanted,
                                         for_publishing=for_publishing, seed=seed)
            if not picked:
                picked = catalogs.pick_media(con, kind="audio", platform=platform, for_publishing=for_publishing,
                                             seed=seed)
                if picked:
                    warnings.append(f"no music with mood {wanted!r}: using {Path(picked[0]['path']).name}")
        if picked:
            music_path, music_id = picked[0]["path"], int(picked[0]["id"])
        else:
            warnings.append("no music in the library: the promo is silent" if not want_voice else
                            "no music in the library")
    spec_fields = dict(
        images=product.images, title=product.name, price=format_price(product.price, product.currency),
        output=output, hook=text.hook, selling_lines=tuple(text.selling_lines), call_to_action=text.call_to_action,
        duration_s=float(duration_s if duration_s is not None else settings.promo.duration_s), template=template,
        music=music_path, platform=platform, seed=seed, fps=settings.render.fps, preset=settings.render.preset,
        crf=settings.render.crf, encoder=settings.render.encoder, decoder=settings.render.decoder,
    )
    spec = PromoSpec(**spec_fields)  # checks the fields before any speech is paid for
    voice_lines: tuple[str, ...] = ()
    voice_reason = None
    if want_voice:
        folder = Path(voice_dir) if voice_dir is not None else (
            ws.state_dir / "voice" if ws is not None else Path(output).resolve().parent / ".voice")
        paths = []
        for line in spec.spoken_texts:
            said = writer.speech(line, language=product.language)
            if said.wav is None:
                voice_reason = said.reason or "no speech"
                break
            paths.append(_write_voice(said.wav, folder))
        if voice_reason is None:
            voice_lines = tuple(paths)
            spec = PromoSpec(**spec_fields, voice_lines=voice_lines)
        else:
            warnings.append(f"no voice-over: {voice_reason}")
    disclosure = (settings.promo.disclosure_vi if product.language == "vi" else settings.promo.disclosure_en) or None
    posts = post_metadata(text, platforms, language=product.language, fallback_title=product.name,
                          affiliate_url=product.affiliate_url, disclosure_text=disclosure,
                          synthetic_voice=bool(voice_lines), affiliate_urls=affiliate_urls, sub_ids=sub_ids)
    return PromoJob(spec=spec, product=product, posts=posts, text=json.loads(text.to_json()),
                    text_source=text.source, text_source_reason=text.reason, ai_tokens=tokens,
                    voice=bool(voice_lines), voice_reason=voice_reason, music_id=music_id, warnings=tuple(warnings))


def enqueue_promo(ws: Workspace, product_id: int, *, platform: str | None = None, seed: int = 0,
                  batch_id: str | None = None, writer=None, template: int | None = None) -> int:
    """Add one pending promo job for a catalog product; returns its id.

    The job's id is reserved first (a short transaction), so each post's affiliate link can carry
    the post's sub-id (``farm.revenue.links_for_job``: made once, cached, the plain link with a note
    when a network is down). The links, words (and voice) are made outside any catalog transaction
    (a slow server must not hold the catalog); then the job, its inputs and its post metadata are
    written in one transaction, and the product counts as promoted once more.
    """
    from farm.revenue import links_for_job

    with ws.catalog.read() as con:
        row = catalogs.get_product(con, product_id)
        template_row = None
        if template is not None:
            template_row = catalogs.get_media(con, template)
            if template_row is None or template_row["kind"] != "template":
                raise InputError(f"media {template}: not a template")
        image_rows = [catalogs.get_media(con, i["id"]) for i in (row or {}).get("images", [])]
    if row is None:
        raise InputError(f"product {product_id}: no such product")
    product = product_from_row(row)
    check_platform(platform)
    if platform is not None and platform not in product.platforms:
        raise InputError(f"product {product_id}: not for {platform} (its platforms: {', '.join(product.platforms)})")
    check_rights(image_rows + ([template_row] if template_row else []), platform)
    with ws.catalog.write() as con:
        job_id = catalogs.next_job_id(con)
    links = links_for_job(ws, job_id=job_id, product=row,
                          platforms=[platform] if platform else list(product.platforms))
    job = build_promo(product, output=str(ws.out_dir / f"promo-{product_id:05d}.mp4"),
                      ws=ws, platform=platform, template=template_row["path"] if template_row else None, seed=seed,
                      writer=writer, for_publishing=platform is not None,
                      affiliate_urls={p: link.url for p, link in links.items()},
                      sub_ids={p: link.sub_id for p, link in links.items() if link.tracked})
    for w in job.warnings:
        print(f"warning: product {product_id}: {w}", file=sys.stderr)
    inputs = [(i, "image", k) for k, i in enumerate(product.image_ids)]
    if template_row:
        inputs.append((template_row["id"], "template", 0))
    if job.music_id is not None:
        inputs.append((job.music_id, "music", 0))
    with ws.catalog.write() as con:
        spec = json.loads(job.spec.to_json())
        spec["output"] = str(ws.out_dir / f"promo-{product_id:05d}-{job_id:06d}.mp4")
        catalogs.insert_job(con, kind="promo", spec=spec, platform=platform, inputs=inputs, job_id=job_id,
                            batch_id=batch_id)
        catalogs.set_job_text(con, job_id, post_metadata=job.posts, text_source=job.text_source,
                              text_source_reason=job.text_source_reason, ai_tokens=job.ai_tokens,
                              product_id=product_id)
        catalogs.mark_promoted(con, [product_id])
        catalogs.log_stage(con, job_id, "plan", detail=f"promo of product {product_id} ({job.text_source} text"
                           + (", voice" if job.voice else "") + ")")
    return job_id


def plan_promos(ws: Workspace, *, count: int, platforms: list[str] | None = None, seed: int = 0,
                batch_id: str | None = None, writer=None) -> tuple[list[int], list[str]]:
    """Enqueue ``count`` promos from the products table, least promoted first (a product is
    promoted once more with each job, so a batch spreads over the catalog); platforms alternate.
    A product that cannot be promoted (its images' licence, its platforms) is skipped with a note.
    One writer serves the batch, so a dead AI server is given up on once, not per product."""
    from farm.errors import FarmError

    if count < 0:
        raise InputError(f"--promos must be 0 or more, not {count}")
    for p in platforms or []:
        check_platform(p)
    writer = writer if writer is not None else make_writer(ws, ws.settings)
    made: list[int] = []
    notes: list[str] = []
    skipped: set[int] = set()
    for k in range(count):
        platform = platforms[k % len(platforms)] if platforms else None
        with ws.catalog.read() as con:
            rows = [r for r in catalogs.list_products(con)
                    if r["id"] not in skipped and (platform is None or platform in r["platforms"])]
        while rows:
            pid = int(rows.pop(0)["id"])
            try:
                made.append(enqueue_promo(ws, pid, platform=platform, seed=seed, batch_id=batch_id, writer=writer))
                break
            except FarmError as err:
                skipped.add(pid)
                notes.append(f"product {pid} not promoted: {err}")
        else:
            notes.append(f"no product to promote{f' on {platform}' if platform else ''}"
                         + (" (farm products import)" if not made else ""))
            break
    return made, notes
